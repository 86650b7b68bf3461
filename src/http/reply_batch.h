// ReplyBatch: hands the writer's answers to the I/O threads one batch at a time. The writer
// completes a whole batch of requests at once; posting each answer on its own costs one
// scheduler lock, one operation allocation and often one wake-up of the I/O thread per
// request. Between Begin() and Flush() Post() gathers the handlers per executor (one per I/O
// thread), and Flush() posts each executor's handlers as one operation, run in order.
//
// Outside Begin()/Flush() (replies made on an I/O thread, e.g. a full inbox) Post() posts at
// once, so a reply is never held back by a batch that will not be flushed.
//
// Thread-safety: the gathering state is per thread (thread_local); Begin(), Post() and
// Flush() act on the calling thread's state only. The engine calls Begin()/Flush() on its
// writer thread around each batch's completions (engine::Options::on_completions_begin/end).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <utility>  // before Asio (Boost 1.74)

namespace fs::http {

class ReplyBatch {
 public:
  static void Begin();
  static void Flush();
  static void Post(const boost::asio::any_io_executor& executor, std::function<void()> handler);
};

}  // namespace fs::http
