import ArgumentParser

struct SchemaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Show or change the identifier types.",
        subcommands: [SchemaShow.self, SchemaSet.self])

    @OptionGroup var global: GlobalOptions
}
