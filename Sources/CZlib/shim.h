// zlib (system zlib1g-dev), for the compress filter's gzip encoder.
#include <zlib.h>
