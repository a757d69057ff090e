// ThreadAdapter: see thread_adapter.h for the policy and why it exists.
#include "runtime/thread_adapter.h"

#include <algorithm>

namespace hqp::runtime {

void ThreadAdapter::Window::push(double v) {
  v_[static_cast<size_t>(next_)] = v;
  next_ = (next_ + 1) % kWindow;
  size_ = std::min(size_ + 1, kWindow);
}

double ThreadAdapter::Window::median() const {
  if (size_ == 0) return 0.0;
  std::array<double, kWindow> s = v_;
  const auto mid = s.begin() + size_ / 2;
  std::nth_element(s.begin(), mid, s.begin() + size_);
  return *mid;
}

ThreadAdapter::Choice ThreadAdapter::next() const {
  switch (state_) {
    case State::kWide: return Choice::kWide;
    case State::kProbingNarrow: return Choice::kNarrow;
    case State::kNarrow: return probe_due_ ? Choice::kWide : Choice::kNarrow;
  }
  return Choice::kWide;
}

void ThreadAdapter::force_narrow() {
  if (state_ != State::kNarrow) ++switches_;
  state_ = State::kNarrow;
  since_probe_ = 0;
  probe_due_ = false;
}

void ThreadAdapter::record(Choice choice, double ms, double cpu_ms) {
  if (!(ms >= 0.0)) return;  // NaN or negative: not a latency
  if (choice == Choice::kWide) {
    if (state_ == State::kNarrow) {
      // A probe of wide while narrow is in use.
      probe_due_ = false;
      since_probe_ = 0;
      // Back at its quiet latency with its threads on their cores (a baseline measured under
      // contention would pass the first test alone), or simply faster than narrow.
      const bool threads_busy = !(cpu_ms >= 0.0 && ms > 0.0) || cpu_ms / (ms * threads_) >= kUtilization;
      const bool quiet_again = baseline_ > 0.0 && ms <= kSlowdown * baseline_ && threads_busy;
      if (quiet_again || ms < narrow_.median()) {
        state_ = State::kWide;
        ++switches_;
        wide_.clear();  // the wide runs before the switch to narrow are stale
        util_.clear();
        wide_.push(ms);
      }
      return;
    }
    if (state_ != State::kWide) return;  // a wide run while probing narrow: not asked for
    wide_.push(ms);
    if (cpu_ms >= 0.0 && ms > 0.0) util_.push(cpu_ms / (ms * threads_));
    if (util_ignored_ > 0) --util_ignored_;
    if (!wide_.full()) return;
    const double m = wide_.median();
    const bool slow = baseline_ > 0.0 && m > kSlowdown * baseline_;
    const bool starved = util_ignored_ == 0 && util_.full() &&
                         util_.median() < kUtilization;
    if (baseline_ == 0.0 || m < baseline_) baseline_ = m;
    if (slow || starved) {
      state_ = State::kProbingNarrow;
      narrow_.clear();
    }
    return;
  }
  // choice == kNarrow
  if (state_ == State::kProbingNarrow) {
    narrow_.push(ms);
    if (!narrow_.full()) return;
    const double wide_now = wide_.median();
    if (narrow_.median() < kMargin * wide_now) {
      state_ = State::kNarrow;
      ++switches_;
      since_probe_ = 0;
      probe_due_ = false;
      backoff_ = kFirstBackoff;
    } else {
      // Narrow is no better: wide is slower, or its threads idle, for another reason (a slower
      // machine, a single-threaded step, both cores busy). Its current latency is the new normal.
      state_ = State::kWide;
      baseline_ = wide_now;
      wide_.clear();
      util_.clear();
      util_ignored_ = backoff_;
      backoff_ = std::min(2 * backoff_, kMaxBackoff);
    }
    return;
  }
  if (state_ == State::kNarrow) {
    narrow_.push(ms);
    if (++since_probe_ >= kRecheckEvery) probe_due_ = true;
  }
}

}  // namespace hqp::runtime
