// The composition root: builds the store, engine, metrics, API and HTTP server from a Config,
// runs until SIGINT/SIGTERM, then shuts down in order (stop accepting, let the engine drain
// and commit what is queued, wait for in-flight responses, stop the I/O threads).
// Thread-safety: call RunServer from main only, once.
#pragma once

#include "app/config.h"

namespace fs::app {

// Returns the process exit code: 0 after a clean shutdown, kExitRuntimeError when the server
// could not start (store, engine or socket).
int RunServer(Config config);

}  // namespace fs::app
