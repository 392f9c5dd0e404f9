using NeuralSparse.Sidecar;

// "demo" runs the one-shot encoding demo; anything else starts the service.
return args is ["demo", ..]
    ? await EncodingDemo.RunAsync(args[1..], Console.Out, CancellationToken.None)
    : await SidecarApp.RunAsync(args);
