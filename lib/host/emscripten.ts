/** The two `env` imports Emscripten-built (C++ SDK) modules may need. */
export function emscriptenFunctions () {
  return {
    pthread_equal: (a: number, b: number): number => a === b ? 1 : 0,
    emscripten_notify_memory_growth: (_index: number): void => {}
  }
}
