@testable import AuthFilter
import Testing

@Suite("bcrypt")
struct BcryptTests {
    /// OpenBSD/jBCrypt vectors and `htpasswd -B` output (apache2-utils), all confirmed with `htpasswd -v`.
    static let vectors: [(password: String, hash: String)] = [
        ("", "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."),
        ("a", "$2a$06$m0CrhHm10qJ3lXRY.5zDGO3rS2KdeeWLuGmsfGlMfOxih58VYVfxe"),
        ("abc", "$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i"),
        ("abcdefghijklmnopqrstuvwxyz", "$2a$06$.rCVZVOThsIa97pEDOxvGuRRgzG64bvtJ0938xuqzv18d3ZpQhstC"),
        ("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
        ("correct horse", "$2y$04$ikNMhLmAON0POZO9lQwIC.r9i0a3Hk2XSsR3Q2Ype9GqKEmVZmuCO"),
        ("correct horse", "$2y$05$ITLFf//tvXS7QxBCC63Hee2Hl.UQU7li7tp1l/qeuEG475YQYw1ae"),
        ("pässwörd", "$2y$04$3tNaeF9XJ20psWV3/Mwgqe0mik7183s3Lu.UC7bCO6t2NT/p75N46"),
        // 80 bytes: bcrypt reads only the first 72.
        (String(repeating: "0123456789", count: 8), "$2y$04$hJekBvQNDwWZ3an7Wzs2wOTQvOs13.vvZ/fgeWuCom2DieXB.PN66"),
    ]

    @Test("known vectors verify, and a changed password does not")
    func vectors() throws {
        for (password, text) in Self.vectors {
            let hash = try #require(Bcrypt.Hash(text), "\(text)")
            #expect(Bcrypt.verify(Array(password.utf8), against: hash), "\(password) / \(text)")
            #expect(!Bcrypt.verify(Array((password + "x").utf8), against: hash) || password.utf8.count >= 72)
        }
    }

    @Test("hashing reproduces a vector from its salt, and only the first 72 bytes count")
    func hashing() throws {
        let hash = try #require(Bcrypt.Hash("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"))
        #expect(Bcrypt.hash(Array("U*U".utf8), salt: hash.salt, cost: 5) == "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
        let long = try #require(Bcrypt.Hash(Self.vectors.last!.hash))
        #expect(Bcrypt.verify(Array((String(repeating: "0123456789", count: 7) + "01different").utf8), against: long))
    }

    @Test("malformed hashes are refused")
    func malformed() {
        for text in ["$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "$2a$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
                     "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe", "$2a$05$CCCCCCCCCCCCCCCCCCCCC!E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"] {
            #expect(Bcrypt.Hash(text) == nil, "\(text)")
        }
    }
}
