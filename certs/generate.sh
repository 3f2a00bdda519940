#!/usr/bin/env bash
# certs/generate.sh - development TLS material: a local CA and three leaf certificates signed by it.
#   usage: certs/generate.sh [--force] [DIR]      (DIR defaults to the folder of this script, i.e. certs/)
# Writes, PEM:
#   ca.pem  ca.key            "Portcullis Dev CA" (ECDSA P-256, 10 years, CA:TRUE pathlen 0)
#   api.pem api.key           api.example.com, ECDSA P-256; SAN api.example.com, localhost, IP 127.0.0.1
#   www.pem www.key           www.example.com, RSA 2048;    SAN www.example.com
#   wildcard-apps.pem .key    *.apps.example.com, ECDSA P-256; SAN *.apps.example.com
# Idempotent: files that exist are kept; --force regenerates everything. A new CA always re-issues the leaves.
# For development and tests only. Keys are never committed (.gitignore). Needs: openssl.
set -euo pipefail

FORCE=0; DIR=""
for a in "$@"; do
  case "$a" in
    --force|-f) FORCE=1 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "generate.sh: unknown option $a" >&2; exit 2 ;;
    *) [ -z "$DIR" ] || { echo "generate.sh: one DIR only" >&2; exit 2; }; DIR="$a" ;;
  esac
done
DIR="${DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
mkdir -p "$DIR"
command -v openssl >/dev/null || { echo "generate.sh: openssl not found (apt-get install openssl)" >&2; exit 1; }

CA_DAYS="${CA_DAYS:-3650}"; LEAF_DAYS="${LEAF_DAYS:-825}"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
umask 077                                       # keys readable by their owner only

key_ec()  { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$1" 2>/dev/null; }
key_rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
serial()  { echo "0x$(openssl rand -hex 16)"; }

cat > "$TMP/req.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
CNF

new_ca=0
if [ "$FORCE" = 1 ] || [ ! -s "$DIR/ca.pem" ] || [ ! -s "$DIR/ca.key" ]; then
  key_ec "$DIR/ca.key"
  openssl req -x509 -new -config "$TMP/req.cnf" -extensions v3_ca -key "$DIR/ca.key" -sha256 \
    -subj "/O=Portcullis development/CN=Portcullis Dev CA" -days "$CA_DAYS" -set_serial "$(serial)" \
    -out "$DIR/ca.pem"
  chmod 644 "$DIR/ca.pem"
  new_ca=1
  echo "created $DIR/ca.pem (dev CA)"
else
  echo "kept    $DIR/ca.pem (exists; --force to regenerate)"
fi

leaf() { # name keytype CN SAN
  local name=$1 kt=$2 cn=$3 san=$4 ku=digitalSignature
  if [ "$FORCE" = 0 ] && [ "$new_ca" = 0 ] && [ -s "$DIR/$name.pem" ] && [ -s "$DIR/$name.key" ]; then
    echo "kept    $DIR/$name.pem (exists; --force to regenerate)"; return
  fi
  if [ "$kt" = rsa ]; then key_rsa "$DIR/$name.key"; ku="digitalSignature, keyEncipherment"; else key_ec "$DIR/$name.key"; fi
  cat > "$TMP/$name.ext" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, $ku
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EXT
  openssl req -new -config "$TMP/req.cnf" -key "$DIR/$name.key" -subj "/O=Portcullis development/CN=$cn" \
    -out "$TMP/$name.csr"
  openssl x509 -req -in "$TMP/$name.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -set_serial "$(serial)" \
    -days "$LEAF_DAYS" -sha256 -extfile "$TMP/$name.ext" -out "$DIR/$name.pem" 2>/dev/null
  chmod 644 "$DIR/$name.pem"
  openssl verify -CAfile "$DIR/ca.pem" "$DIR/$name.pem" >/dev/null
  echo "created $DIR/$name.pem ($cn, $kt)"
}

leaf api           ec  api.example.com     "DNS:api.example.com, DNS:localhost, IP:127.0.0.1"
leaf www           rsa www.example.com     "DNS:www.example.com"
leaf wildcard-apps ec  "*.apps.example.com" "DNS:*.apps.example.com"
