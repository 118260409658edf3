/** `proxy_status_t` / `WasmResult`: what every `proxy_*` host function returns. */
export enum WasmResult {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12
}

/** WASI preview1 errno values the host answers with. */
export enum Errno {
  Success = 0,
  Badf = 8,
  Exist = 20,
  Fault = 21,
  Inval = 28,
  Noent = 44,
  Nosys = 52,
  Notdir = 54,
  Notsup = 58,
  Spipe = 70,
  Notcapable = 76
}
