using Google.Protobuf;
using Grpc.Core;
using NeuralSparse.Grpc.V1;

namespace NeuralSparse.Sidecar.Grpc;

/// <summary>
/// The service base Grpc.AspNetCore binds, in place of the generated <c>SparseEncoder.SparseEncoderBase</c> (same
/// methods, same proto descriptor): its binding differs in one point, see <see cref="SparseEncoderBinding"/>.
/// </summary>
[BindServiceMethod(typeof(SparseEncoderBinding), nameof(SparseEncoderBinding.BindService))]
internal abstract class SparseEncoderServiceBase
{
    public abstract Task<EncodeResponse> Encode(EncodeRequest request, ServerCallContext context);

    public abstract Task EncodeStream(IAsyncStreamReader<EncodeRequest> requestStream, IServerStreamWriter<EncodeResponse> responseStream, ServerCallContext context);

    public abstract Task<TokenizeResponse> Tokenize(TokenizeRequest request, ServerCallContext context);

    public abstract Task<InfoResponse> Info(InfoRequest request, ServerCallContext context);
}

/// <summary>
/// Binds the methods as the generated <c>BindService</c> does, with one difference: a request that is not valid
/// protobuf (Google.Protobuf refuses a string field that is not UTF-8) is answered INVALID_ARGUMENT naming the problem,
/// where the generated marshallers would surface it as UNKNOWN. Server reflection reads <see cref="Descriptor"/>.
/// </summary>
internal static class SparseEncoderBinding
{
    private const string ServiceName = "neuralsparse.v1.SparseEncoder";

    public static Google.Protobuf.Reflection.ServiceDescriptor Descriptor => global::NeuralSparse.Grpc.V1.SparseEncoder.Descriptor;

    public static void BindService(ServiceBinderBase binder, SparseEncoderServiceBase? service)
    {
        ArgumentNullException.ThrowIfNull(binder);
        binder.AddMethod(Method(MethodType.Unary, "Encode", EncodeRequest.Parser, EncodeResponse.Parser),
            service is null ? null : new UnaryServerMethod<EncodeRequest, EncodeResponse>(service.Encode));
        binder.AddMethod(Method(MethodType.DuplexStreaming, "EncodeStream", EncodeRequest.Parser, EncodeResponse.Parser),
            service is null ? null : new DuplexStreamingServerMethod<EncodeRequest, EncodeResponse>(service.EncodeStream));
        binder.AddMethod(Method(MethodType.Unary, "Tokenize", TokenizeRequest.Parser, TokenizeResponse.Parser),
            service is null ? null : new UnaryServerMethod<TokenizeRequest, TokenizeResponse>(service.Tokenize));
        binder.AddMethod(Method(MethodType.Unary, "Info", InfoRequest.Parser, InfoResponse.Parser),
            service is null ? null : new UnaryServerMethod<InfoRequest, InfoResponse>(service.Info));
    }

    internal static Method<TRequest, TResponse> Method<TRequest, TResponse>(string serviceName, MethodType type, string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        new(type, serviceName, name, Marshaller(request), Marshaller(response));

    private static Method<TRequest, TResponse> Method<TRequest, TResponse>(MethodType type, string name, MessageParser<TRequest> request, MessageParser<TResponse> response)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse> =>
        new(type, ServiceName, name, Marshaller(request), Marshaller(response));

    private static Marshaller<T> Marshaller<T>(MessageParser<T> parser) where T : class, IMessage<T> =>
        Marshallers.Create<T>(
            (message, context) =>
            {
                context.SetPayloadLength(message.CalculateSize());
                message.WriteTo(context.GetBufferWriter());
                context.Complete();
            },
            context =>
            {
                try
                {
                    return parser.ParseFrom(context.PayloadAsReadOnlySequence());
                }
                catch (InvalidProtocolBufferException ex)
                {
                    throw new RpcException(new Status(StatusCode.InvalidArgument, "The request message is not valid protobuf: " + ex.Message));
                }
            });
}

/// <summary>The base <see cref="SidecarHealthService"/> is bound through, with <c>grpc.health.v1.Health</c>'s descriptor.</summary>
[BindServiceMethod(typeof(GrpcHealthBinding), nameof(GrpcHealthBinding.BindService))]
internal abstract class GrpcHealthServiceBase
{
    public abstract Task<global::Grpc.Health.V1.HealthCheckResponse> Check(global::Grpc.Health.V1.HealthCheckRequest request, ServerCallContext context);

    public abstract Task Watch(global::Grpc.Health.V1.HealthCheckRequest request, IServerStreamWriter<global::Grpc.Health.V1.HealthCheckResponse> responseStream, ServerCallContext context);
}

/// <summary>Binds the health service like <see cref="SparseEncoderBinding"/>: a request that is not valid protobuf is INVALID_ARGUMENT.</summary>
internal static class GrpcHealthBinding
{
    private const string ServiceName = "grpc.health.v1.Health";

    public static Google.Protobuf.Reflection.ServiceDescriptor Descriptor => global::Grpc.Health.V1.Health.Descriptor;

    public static void BindService(ServiceBinderBase binder, GrpcHealthServiceBase? service)
    {
        ArgumentNullException.ThrowIfNull(binder);
        binder.AddMethod(SparseEncoderBinding.Method(ServiceName, MethodType.Unary, "Check", global::Grpc.Health.V1.HealthCheckRequest.Parser, global::Grpc.Health.V1.HealthCheckResponse.Parser),
            service is null ? null : new UnaryServerMethod<global::Grpc.Health.V1.HealthCheckRequest, global::Grpc.Health.V1.HealthCheckResponse>(service.Check));
        binder.AddMethod(SparseEncoderBinding.Method(ServiceName, MethodType.ServerStreaming, "Watch", global::Grpc.Health.V1.HealthCheckRequest.Parser, global::Grpc.Health.V1.HealthCheckResponse.Parser),
            service is null ? null : new ServerStreamingServerMethod<global::Grpc.Health.V1.HealthCheckRequest, global::Grpc.Health.V1.HealthCheckResponse>(service.Watch));
    }
}

