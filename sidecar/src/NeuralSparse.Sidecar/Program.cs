using NeuralSparse.Sidecar;

return await EncodingDemo.RunAsync(args, Console.Out, CancellationToken.None);
