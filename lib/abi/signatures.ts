import { AbiVersion } from './enums'

/**
 * Signatures of everything a Proxy-Wasm module may import from the host and
 * export to it, per ABI version, written `params:results` (i=i32, I=i64).
 */

const ALL_ABIS: Record<string, string> = {
  proxy_log: 'iii:i',
  proxy_get_status: 'iii:i',
  proxy_set_property: 'iiii:i',
  proxy_get_property: 'iiii:i',
  proxy_send_local_response: 'iiiiiiii:i',
  proxy_get_shared_data: 'iiiii:i',
  proxy_set_shared_data: 'iiiii:i',
  proxy_register_shared_queue: 'iii:i',
  proxy_resolve_shared_queue: 'iiiii:i',
  proxy_dequeue_shared_queue: 'iii:i',
  proxy_enqueue_shared_queue: 'iii:i',
  proxy_get_header_map_value: 'iiiii:i',
  proxy_add_header_map_value: 'iiiii:i',
  proxy_replace_header_map_value: 'iiiii:i',
  proxy_remove_header_map_value: 'iii:i',
  proxy_get_header_map_pairs: 'iii:i',
  proxy_set_header_map_pairs: 'iii:i',
  proxy_get_header_map_size: 'ii:i',
  proxy_get_buffer_status: 'iii:i',
  proxy_get_buffer_bytes: 'iiiii:i',
  proxy_set_buffer_bytes: 'iiiii:i',
  proxy_http_call: 'iiiiiiiiii:i',
  proxy_grpc_call: 'iiiiiiiiiiii:i',
  proxy_grpc_stream: 'iiiiiiiii:i',
  proxy_grpc_close: 'i:i',
  proxy_grpc_cancel: 'i:i',
  proxy_grpc_send: 'iiii:i',
  proxy_set_tick_period_milliseconds: 'i:i',
  proxy_get_current_time_nanoseconds: 'i:i',
  proxy_define_metric: 'iiii:i',
  proxy_increment_metric: 'iI:i',
  proxy_record_metric: 'iI:i',
  proxy_get_metric: 'ii:i',
  proxy_set_effective_context: 'i:i',
  proxy_done: ':i',
  proxy_call_foreign_function: 'iiiiii:i',
  pthread_equal: 'ii:i',
  emscripten_notify_memory_growth: 'i:'
}

const V0_1_0_ONLY: Record<string, string> = {
  proxy_get_configuration: 'ii:i',
  proxy_continue_request: ':i',
  proxy_continue_response: ':i',
  proxy_clear_route_cache: ':i'
}

const V0_2_X: Record<string, string> = {
  proxy_continue_stream: 'i:i',
  proxy_close_stream: 'i:i'
}

const V0_2_1_ONLY: Record<string, string> = {
  proxy_get_log_level: 'i:i'
}

/** `env` imports linked for a module of the given ABI version. */
export function envImportSignatures (abi: AbiVersion): Record<string, string> {
  switch (abi) {
    case AbiVersion.V0_1_0: return { ...ALL_ABIS, ...V0_1_0_ONLY }
    case AbiVersion.V0_2_0: return { ...ALL_ABIS, ...V0_2_X }
    case AbiVersion.V0_2_1: return { ...ALL_ABIS, ...V0_2_X, ...V0_2_1_ONLY }
  }
}

/** The WASI preview1 functions the host provides, with their real signatures. */
export const WASI_SIGNATURES: Record<string, string> = {
  fd_write: 'iiii:i',
  fd_read: 'iiii:i',
  fd_seek: 'iIii:i',
  fd_close: 'i:i',
  fd_fdstat_get: 'ii:i',
  fd_fdstat_set_flags: 'ii:i',
  fd_fdstat_set_rights: 'iII:i',
  fd_prestat_get: 'ii:i',
  fd_prestat_dir_name: 'iii:i',
  fd_filestat_get: 'ii:i',
  fd_advise: 'iIIi:i',
  fd_allocate: 'iII:i',
  fd_datasync: 'i:i',
  fd_filestat_set_size: 'iI:i',
  fd_filestat_set_times: 'iIIi:i',
  fd_pread: 'iiiIi:i',
  fd_pwrite: 'iiiIi:i',
  fd_readdir: 'iiiIi:i',
  fd_renumber: 'ii:i',
  fd_sync: 'i:i',
  fd_tell: 'ii:i',
  path_open: 'iiiiiIIii:i',
  path_create_directory: 'iii:i',
  path_filestat_get: 'iiiii:i',
  path_filestat_set_times: 'iiiiIIi:i',
  path_link: 'iiiiiii:i',
  path_readlink: 'iiiiii:i',
  path_remove_directory: 'iii:i',
  path_rename: 'iiiiii:i',
  path_symlink: 'iiiii:i',
  path_unlink_file: 'iii:i',
  sock_accept: 'iii:i',
  sock_recv: 'iiiiii:i',
  sock_send: 'iiiii:i',
  sock_shutdown: 'ii:i',
  environ_get: 'ii:i',
  environ_sizes_get: 'ii:i',
  args_get: 'ii:i',
  args_sizes_get: 'ii:i',
  clock_time_get: 'iIi:i',
  clock_res_get: 'ii:i',
  random_get: 'ii:i',
  sched_yield: ':i',
  poll_oneoff: 'iiii:i',
  proc_exit: 'i:'
}

export const WASI_MODULES = ['wasi_snapshot_preview1', 'wasi_unstable'] as const

/** Callbacks the host may call, with the signature each must have. */
export function callbackSignatures (abi: AbiVersion): Record<string, string> {
  const headers = abi === AbiVersion.V0_1_0 ? 'ii:i' : 'iii:i'
  const sigs: Record<string, string> = {
    _initialize: ':',
    _start: ':',
    main: 'ii:i',
    __main_void: ':i',
    malloc: 'i:i',
    proxy_on_memory_allocate: 'i:i',
    proxy_on_context_create: 'ii:',
    proxy_on_vm_start: 'ii:i',
    proxy_validate_configuration: 'ii:i',
    proxy_on_configure: 'ii:i',
    proxy_on_tick: 'i:',
    proxy_on_queue_ready: 'ii:',
    proxy_on_new_connection: 'i:i',
    proxy_on_downstream_data: 'iii:i',
    proxy_on_upstream_data: 'iii:i',
    proxy_on_downstream_connection_close: 'ii:',
    proxy_on_upstream_connection_close: 'ii:',
    proxy_on_request_headers: headers,
    proxy_on_request_body: 'iii:i',
    proxy_on_request_trailers: 'ii:i',
    proxy_on_request_metadata: 'ii:i',
    proxy_on_response_headers: headers,
    proxy_on_response_body: 'iii:i',
    proxy_on_response_trailers: 'ii:i',
    proxy_on_response_metadata: 'ii:i',
    proxy_on_http_call_response: 'iiiii:',
    proxy_on_grpc_receive_initial_metadata: 'iii:',
    proxy_on_grpc_receive: 'iii:',
    proxy_on_grpc_receive_trailing_metadata: 'iii:',
    proxy_on_grpc_trailing_metadata: 'iii:',
    proxy_on_grpc_close: 'iii:',
    proxy_on_done: 'i:i',
    proxy_on_log: 'i:',
    proxy_on_delete: 'i:'
  }
  if (abi !== AbiVersion.V0_1_0) sigs.proxy_on_foreign_function = 'iii:'
  return sigs
}

export const ABI_MARKERS: Record<string, AbiVersion> = {
  proxy_abi_version_0_1_0: AbiVersion.V0_1_0,
  proxy_abi_version_0_2_0: AbiVersion.V0_2_0,
  proxy_abi_version_0_2_1: AbiVersion.V0_2_1
}
