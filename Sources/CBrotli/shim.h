// brotli (system libbrotli-dev), for the compress filter's br encoder (the decoder is for its tests).
#include <brotli/encode.h>
#include <brotli/decode.h>
