@testable import AuthFilter
import HTTPTypes
import Testing

@Suite("API key and htpasswd files")
struct CredentialFilesTests {
    @Test("API keys are found by hash with their consumer; comments and blanks are skipped")
    func apiKeys() throws {
        let store = try APIKeyStore.parse(Array("# keys\n\nk-0123456789abcdef mobile-app\n  k-fedcba9876543210\n".utf8), file: "keys.txt")
        #expect(store.count == 2)
        #expect(store.consumer(for: "k-0123456789abcdef") == "mobile-app")
        #expect(store.consumer(for: "k-fedcba9876543210") == "key-4")
        #expect(store.consumer(for: "k-0123456789abcdeF") == nil)
    }

    @Test("bad key files name file and line")
    func apiKeyErrors() {
        #expect(throws: KeyError.self) { try APIKeyStore.parse(Array("short\n".utf8), file: "k") }
        do {
            _ = try APIKeyStore.parse(Array("k-0123456789abcdef a\nk-0123456789abcdef b\n".utf8), file: "keys.txt")
        } catch {
            #expect("\(error)" == "keys.txt:2: duplicate key")
        }
    }

    @Test("htpasswd takes bcrypt and {SHA}, refuses MD5 and crypt with file:line")
    func htpasswd() throws {
        let file = Htpasswd.self
        let users = try file.parse(Array("alice:$2y$04$ikNMhLmAON0POZO9lQwIC.r9i0a3Hk2XSsR3Q2Ype9GqKEmVZmuCO\nbob:{SHA}lW2ZjsFP+nY11L3OFMUH/UdgUQQ=\n".utf8), file: "h")
        #expect(users.count == 2)
        guard case .sha1(let digest)? = users.entry(for: "bob") else { Issue.record("bob"); return }
        #expect(digest == sha1(Array("b0b-secret".utf8)))
        do {
            _ = try file.parse(Array("alice:$2y$04$ikNMhLmAON0POZO9lQwIC.r9i0a3Hk2XSsR3Q2Ype9GqKEmVZmuCO\ncarol:$apr1$abc$def\n".utf8), file: "users.htpasswd")
            Issue.record("accepted MD5")
        } catch {
            #expect("\(error)".hasPrefix("users.htpasswd:2: unsupported hash for 'carol'"))
        }
    }

    @Test("query parameters and cookies are read and stripped")
    func requestCredentials() {
        #expect(RequestCredentials.queryValue("api_key", in: "/a?x=1&api_key=k%2B1&y=2") == "k+1")
        #expect(RequestCredentials.removingQueryParameter("api_key", from: "/a?x=1&api_key=k&y=2") == "/a?x=1&y=2")
        #expect(RequestCredentials.removingQueryParameter("api_key", from: "/a?api_key=k") == "/a")
        var fields: HTTPFields = [.cookie: "a=1; session=tok; b=2"]
        #expect(RequestCredentials.cookieValue("session", in: fields) == "tok")
        fields = [.cookie: "sessionx=1"]
        #expect(RequestCredentials.cookieValue("session", in: fields) == nil)
    }
}
