import ArgumentParser

/// The `medlab` command: MedGemma Vision Lab from the terminal.
@main
struct MedLab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medlab",
        abstract: "MedGemma Vision Lab — research and teaching use only, not for diagnosis.",
        version: "0.1.0",
        subcommands: [
            Serve.self, Ask.self, Batch.self, Compare.self, Regress.self, Record.self, Pull.self, Export.self, Convert.self, Info.self,
            Models.self
        ]
    )
}
