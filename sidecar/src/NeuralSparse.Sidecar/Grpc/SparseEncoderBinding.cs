using Google.Protobuf;
using Grpc.Core;
using NeuralSparse.Grpc.V1;

namespace NeuralSparse.Sidecar.Grpc;

/// <summary>
/// Binds <see cref="SparseEncoderService"/>'s methods as the generated <c>BindService</c> does, with one difference: a
/// request that is not valid protobuf (Google.Protobuf refuses a string field that is not UTF-8) is answered
/// INVALID_ARGUMENT naming the problem, where the generated marshallers would surface it as UNKNOWN. Server reflection
/// reads <see cref="Descriptor"/>.
/// </summary>
internal static class SparseEncoderBinding
{
    private const string ServiceName = "neuralsparse.v1.SparseEncoder";

    public static Google.Protobuf.Reflection.ServiceDescriptor Descriptor => global::NeuralSparse.Grpc.V1.SparseEncoder.Descriptor;

    public static void BindService(ServiceBinderBase binder, SparseEncoderService? service)
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
