import BrigCLI

Brig.main(Array(CommandLine.arguments.dropFirst()))
