import ArgumentParser
import IdentityLedger

struct Explain: AsyncParsableCommand, IdentifierArguments {
    static let configuration = CommandConfiguration(
        abstract: "Would two customers merge now? Every guard with its evidence, and every past decision between them.",
        discussion: "A merged ID stands for the customer it was merged into; the answer says since which merge.")

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
            let ledger = try global.openLedger()
            let refs = (try ArgumentParsing.customer(a, argument: "A"), try ArgumentParsing.customer(b, argument: "B"))
            let explanation = try ledger.explain(refs.0, refs.1)
            // Merges are never undone: a redirect read after the explanation is the one it used.
            var merged: [Rendering.Merged] = []
            for ref in [refs.0, refs.1] {
                guard case .id = ref else { continue }
                let customer = try ledger.customer(ref)
                if let redirect = customer.resolvedFrom, !merged.contains(where: { $0.redirect.id == redirect.id }) { merged.append(.init(redirect: redirect, survivor: customer.id)) }
            }
            print(global.json
                ? Output.json(ExplanationOutput(explanation, merged: merged))
                : Rendering.explanation(explanation, asked: refs, merged: merged))
        }
    }
}
