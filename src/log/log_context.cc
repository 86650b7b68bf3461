#include "log/log_context.h"

namespace fs::log {
namespace {

thread_local const LogContext* current_context = nullptr;

}  // namespace

const LogContext* CurrentLogContext() { return current_context; }

ScopedLogContext::ScopedLogContext(const LogContext& context) : previous_(current_context) {
  current_context = &context;
}

ScopedLogContext::~ScopedLogContext() { current_context = previous_; }

}  // namespace fs::log
