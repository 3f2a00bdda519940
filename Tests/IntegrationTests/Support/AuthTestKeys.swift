@testable import AuthFilter
import COpenSSL
import Foundation

/// Keys made at test time with the openssl CLI (nothing private is committed), loaded with libcrypto
/// to publish as JWKS and to sign tokens.
final class AuthTestKeys: @unchecked Sendable {
    /// Generated once per test process (RSA keygen costs a blocking second or so under load) and never
    /// freed; the PEM files are deleted as soon as they are read.
    private struct Material: @unchecked Sendable {
        let rsa: OpaquePointer
        let ec: OpaquePointer
        let rotated: OpaquePointer
    }
    private static let material: Result<Material, Error> = Result {
        let directory = NSTemporaryDirectory() + "portcullis-auth-keys-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rsa = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
        return Material(rsa: try generate(rsa, to: directory + "/rsa.pem"),
                        ec: try generate(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], to: directory + "/ec.pem"),
                        rotated: try generate(rsa, to: directory + "/rotated.pem"))
    }

    /// This instance's folder for JWKS, key and htpasswd files (removed with the instance).
    let directory: String
    let rsa: OpaquePointer
    let ec: OpaquePointer
    /// A second RSA key, for rotation tests.
    let rotated: OpaquePointer
    let hmacSecret: [UInt8] = Array("an-hs256-test-secret-of-32-bytes!".utf8)

    init() throws {
        let material = try Self.material.get()
        rsa = material.rsa
        ec = material.ec
        rotated = material.rotated
        directory = NSTemporaryDirectory() + "portcullis-auth-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func generate(_ options: [String], to path: String) throws -> OpaquePointer {
        let output = try run("/usr/bin/env", ["openssl", "genpkey"] + options + ["-out", path])
        guard output.exitCode == 0 else { throw TestFailure("openssl genpkey failed: \(output.stderr)") }
        guard let bio = BIO_new_file(path, "r") else { throw TestFailure("cannot open \(path)") }
        defer { BIO_free(bio) }
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else { throw TestFailure("cannot read \(path)") }
        return key
    }

    // MARK: - JWKS

    func rsaJWK(kid: String, key: OpaquePointer? = nil) -> String {
        let key = key ?? rsa
        return #"{"kty":"RSA","kid":"\#(kid)","use":"sig","alg":"RS256","n":"\#(Self.bnParam(key, "n", width: 0))","e":"\#(Self.bnParam(key, "e", width: 0))"}"#
    }

    func ecJWK(kid: String) -> String {
        #"{"kty":"EC","kid":"\#(kid)","crv":"P-256","x":"\#(Self.bnParam(ec, "qx", width: 32))","y":"\#(Self.bnParam(ec, "qy", width: 32))"}"#
    }

    func octJWK(kid: String) -> String {
        #"{"kty":"oct","kid":"\#(kid)","k":"\#(Base64URL.encode(hmacSecret))"}"#
    }

    static func jwks(_ keys: [String]) -> String { #"{"keys":["# + keys.joined(separator: ",") + "]}" }

    /// Writes a file into the keys' folder and returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private static func bnParam(_ key: OpaquePointer, _ name: String, width: Int32) -> String {
        var bn: OpaquePointer?
        precondition(EVP_PKEY_get_bn_param(key, name, &bn) == 1, "no \(name)")
        defer { BN_free(bn) }
        let count = width > 0 ? width : (BN_num_bits(bn) + 7) / 8
        var bytes = [UInt8](repeating: 0, count: Int(count))
        _ = BN_bn2binpad(bn, &bytes, count)
        return Base64URL.encode(bytes)
    }

    // MARK: - Tokens

    enum Signer {
        case rs256(OpaquePointer)
        case es256(OpaquePointer)
        case hs256([UInt8])
        case none
    }

    /// A compact JWS with the given header and claims (JSON text).
    static func token(header: String, claims: String, signer: Signer) -> String {
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        let message = Array(input.utf8)
        let signature: [UInt8]
        switch signer {
        case .rs256(let key): signature = sign(message, key)
        case .es256(let key): signature = ECDSASignature.raw(fromDER: sign(message, key))!
        case .hs256(let secret):
            var mac = [UInt8](repeating: 0, count: 32)
            var length: UInt32 = 0
            _ = HMAC(EVP_sha256(), secret, Int32(secret.count), message, message.count, &mac, &length)
            signature = mac
        case .none: signature = []
        }
        return input + "." + Base64URL.encode(signature)
    }

    private static func sign(_ message: [UInt8], _ key: OpaquePointer) -> [UInt8] {
        let context = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(context) }
        precondition(EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key) == 1)
        var length = 0
        precondition(EVP_DigestSign(context, nil, &length, message, message.count) == 1)
        var signature = [UInt8](repeating: 0, count: length)
        precondition(EVP_DigestSign(context, &signature, &length, message, message.count) == 1)
        return Array(signature.prefix(length))
    }

    /// The public key as PEM text (SubjectPublicKeyInfo), as an attacker would find it.
    static func publicPEM(_ key: OpaquePointer) -> [UInt8] {
        let bio = BIO_new(BIO_s_mem())
        defer { BIO_free(bio) }
        precondition(PEM_write_bio_PUBKEY(bio, key) == 1)
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = BIO_read(bio, &bytes, Int32(bytes.count))
        return Array(bytes.prefix(Int(count)))
    }
}
