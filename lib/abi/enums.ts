/** Enumerations of the Proxy-Wasm ABI, with the values the SDKs put on the wire. */

export enum AbiVersion {
  V0_1_0 = '0.1.0',
  V0_2_0 = '0.2.0',
  V0_2_1 = '0.2.1'
}

export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5
}

/** Returned by `proxy_on_{request,response}_headers`. */
export enum FilterHeadersStatus {
  Continue = 0,
  StopIteration = 1,
  ContinueAndEndStream = 2,
  StopAllIterationAndBuffer = 3,
  StopAllIterationAndWatermark = 4
}

/** Returned by `proxy_on_{request,response}_body`. */
export enum FilterDataStatus {
  Continue = 0,
  StopIterationAndBuffer = 1,
  StopIterationAndWatermark = 2,
  StopIterationNoBuffer = 3
}

/** Returned by `proxy_on_{request,response}_trailers`. */
export enum FilterTrailersStatus {
  Continue = 0,
  StopIteration = 1
}

export enum BufferType {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  ForeignFunctionArguments = 8
}
export const BUFFER_TYPE_MAX = 8

export enum MapType {
  RequestHeaders = 0,
  RequestTrailers = 1,
  ResponseHeaders = 2,
  ResponseTrailers = 3,
  GrpcInitialMetadata = 4,
  GrpcTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7
}
export const MAP_TYPE_MAX = 7

export enum StreamType {
  Request = 0,
  Response = 1,
  Downstream = 2,
  Upstream = 3
}
export const STREAM_TYPE_MAX = 3

export enum MetricType {
  Counter = 0,
  Gauge = 1,
  Histogram = 2
}

export enum GrpcStatus {
  Ok = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16
}
