import ArgumentParser
import IdentityLedger

struct Explain: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "Would two customers merge now? Every guard with its evidence, and every past decision between them.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A customer ID or TYPE=VALUE.", valueName: "a"))
    var a: String

    @Argument(help: ArgumentHelp("A customer ID or TYPE=VALUE.", valueName: "b"))
    var b: String

    var identifierArguments: [String] { [a, b] }

    func validate() throws {
        try global.validateStore()
        _ = try ArgumentParsing.customer(a, argument: "A")
        _ = try ArgumentParsing.customer(b, argument: "B")
    }

    func run() async throws {
        try await global.run {
            let explanation = try global.openLedger().explain(
                try ArgumentParsing.customer(a, argument: "A"), try ArgumentParsing.customer(b, argument: "B"))
            print(global.json ? Output.json(ExplanationOutput(explanation)) : Rendering.explanation(explanation))
        }
    }
}
