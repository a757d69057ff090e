// ThreadAdapter: see thread_adapter.h for the policy and why it exists.
#include "runtime/thread_adapter.h"

#include <algorithm>
#include <vector>

namespace hqp::runtime {

double ThreadAdapter::median(const std::deque<double>& v) {
  if (v.empty()) return 0.0;
  std::vector<double> s(v.begin(), v.end());
  std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(s.size() / 2), s.end());
  return s[s.size() / 2];
}

void ThreadAdapter::push(std::deque<double>& v, double ms) {
  v.push_back(ms);
  while (v.size() > static_cast<size_t>(kWindow)) v.pop_front();
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
      if (quiet_again || ms < median(narrow_)) {
        state_ = State::kWide;
        ++switches_;
        wide_.clear();  // the wide runs before the switch to narrow are stale
        util_.clear();
        push(wide_, ms);
      }
      return;
    }
    if (state_ != State::kWide) return;  // a wide run while probing narrow: not asked for
    push(wide_, ms);
    if (cpu_ms >= 0.0 && ms > 0.0) push(util_, cpu_ms / (ms * threads_));
    if (util_ignored_ > 0) --util_ignored_;
    if (wide_.size() < static_cast<size_t>(kWindow)) return;
    const double m = median(wide_);
    const bool slow = baseline_ > 0.0 && m > kSlowdown * baseline_;
    const bool starved = util_ignored_ == 0 && util_.size() == static_cast<size_t>(kWindow) &&
                         median(util_) < kUtilization;
    if (baseline_ == 0.0 || m < baseline_) baseline_ = m;
    if (slow || starved) {
      state_ = State::kProbingNarrow;
      narrow_.clear();
    }
    return;
  }
  // choice == kNarrow
  if (state_ == State::kProbingNarrow) {
    push(narrow_, ms);
    if (narrow_.size() < static_cast<size_t>(kWindow)) return;
    const double wide_now = median(wide_);
    if (median(narrow_) < kMargin * wide_now) {
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
    push(narrow_, ms);
    if (++since_probe_ >= kRecheckEvery) probe_due_ = true;
  }
}

}  // namespace hqp::runtime
