// Sanitizer defaults of every fuzz target: undefined behaviour stops the run like a crash
// (by default UBSan reports and goes on, and libFuzzer would never save the input), except
// what ubsan.supp lists, which is third-party code's and not ours to fix.
// FLASHSALE_UBSAN_SUPPRESSIONS is that file's path (tests/fuzz/CMakeLists.txt).
// Thread-safety: read once by the sanitizer runtimes at startup.

extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:suppressions=" FLASHSALE_UBSAN_SUPPRESSIONS;
}
