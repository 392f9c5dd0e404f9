using NeuralSparse.Cli;
using NeuralSparse.Cli.Hosting;

return await CliApplication.RunAsync(args, CliHost.FromConsole());
