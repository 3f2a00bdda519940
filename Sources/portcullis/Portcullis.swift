import ArgumentParser

@main
struct Portcullis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "An L7 edge API gateway.",
        version: PortcullisVersion.string,
        subcommands: [RunCommand.self, CheckCommand.self, EchoCommand.self, VersionCommand.self])
}

enum PortcullisVersion {
    static let string = "0.1.0"
}
