// ProcessGroup on c10d: TCPStore rendezvous (rank 0 hosts it), ProcessGroupGloo over TCP.
#include "distributed/gloo_group.h"

#include <chrono>

#include <c10/util/Exception.h>
#include <glog/logging.h>

namespace hqp::distributed {

namespace {

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

// c10::Error carries a backtrace in what(); the message alone is enough here.
std::string message_of(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

c10d::ReduceOp to_c10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return c10d::ReduceOp::SUM;
    case ReduceOp::kMin: return c10d::ReduceOp::MIN;
    case ReduceOp::kMax: return c10d::ReduceOp::MAX;
  }
  return c10d::ReduceOp::SUM;
}

template <typename T>
Status all_reduce_span(ProcessGroup& group, std::span<T> values, ReduceOp op, at::ScalarType type) {
  if (values.empty()) return Status();
  return guarded(group, "allreduce", [&](c10d::ProcessGroupGloo& pg) {
    std::vector<at::Tensor> t{at::from_blob(values.data(), {static_cast<int64_t>(values.size())}, type)};
    c10d::AllreduceOptions opts;
    opts.reduceOp = to_c10d(op);
    pg.allreduce(t, opts)->wait();
  });
}

}  // namespace

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return impl_->config.rank; }
int ProcessGroup::world_size() const { return impl_->config.world_size; }
const DistConfig& ProcessGroup::config() const { return impl_->config; }

Status ProcessGroup::failure(const std::string& what, const std::string& detail) {
  if (!impl_->broken) {
    impl_->broken = true;
    impl_->broken_reason = detail;
  }
  return make_error(StatusCode::kIoError,
                    "rank {} of {}: {} failed: another rank exited or did not answer within {:g} s ({})", rank(),
                    world_size(), what, impl_->config.timeout_s, detail);
}

Result<std::shared_ptr<ProcessGroup>> ProcessGroup::connect(const DistConfig& config) {
  if (config.world_size < 1 || config.rank < 0 || config.rank >= config.world_size) {
    return make_error(StatusCode::kInvalidArgument, "cannot join process group: rank {} of world size {}", config.rank,
                      config.world_size);
  }
  // c10d also logs every socket failure through glog on stderr; hqp reports each failure once,
  // as the Status of the call that failed (the CLI's one-line error contract).
  FLAGS_minloglevel = google::GLOG_FATAL;
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(config.master_port);
    so.isServer = config.rank == 0;
    so.numWorkers = config.world_size;
    so.waitWorkers = true;
    so.timeout = to_ms(config.timeout_s);
    impl->store = c10::make_intrusive<c10d::TCPStore>(config.master_addr, so);
    auto opts = c10d::ProcessGroupGloo::Options::create(to_ms(config.timeout_s));
    // Gloo binds each rank to the interface that resolves the master's address: loopback for a
    // single machine, the cluster network otherwise.
    opts->devices.push_back(config.master_addr == "127.0.0.1" || config.master_addr == "localhost"
                                ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                : c10d::ProcessGroupGloo::createDefaultDevice());
    opts->threads = 2;
    impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, config.rank, config.world_size, opts);
  } catch (const std::exception& e) {
    return make_error(StatusCode::kIoError,
                      "rank {} of {}: cannot join the process group at {}:{} within {:g} s: {}", config.rank,
                      config.world_size, config.master_addr, config.master_port, config.timeout_s, message_of(e));
  }
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

Status ProcessGroup::all_reduce(std::span<double> values, ReduceOp op) {
  return all_reduce_span(*this, values, op, at::kDouble);
}
Status ProcessGroup::all_reduce(std::span<float> values, ReduceOp op) {
  return all_reduce_span(*this, values, op, at::kFloat);
}
Status ProcessGroup::all_reduce(std::span<int64_t> values, ReduceOp op) {
  return all_reduce_span(*this, values, op, at::kLong);
}

Status ProcessGroup::broadcast(std::span<uint8_t> bytes, int root) {
  if (bytes.empty()) return Status();
  return guarded(*this, "broadcast", [&](c10d::ProcessGroupGloo& pg) {
    std::vector<at::Tensor> t{at::from_blob(bytes.data(), {static_cast<int64_t>(bytes.size())}, at::kByte)};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    pg.broadcast(t, opts)->wait();
  });
}

Status ProcessGroup::broadcast(std::span<double> values, int root) {
  return broadcast(std::span<uint8_t>(reinterpret_cast<uint8_t*>(values.data()), values.size_bytes()), root);
}

Status ProcessGroup::broadcast(std::string& text, int root) {
  double size = static_cast<double>(text.size());
  HQP_RETURN_IF_ERROR(broadcast(std::span<double>(&size, 1), root));
  text.resize(static_cast<size_t>(size));
  return broadcast(std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), text.size()), root);
}

Result<double> global_fraction(ProcessGroup* group, int64_t hits, int64_t total) {
  int64_t v[2] = {hits, total};
  if (group != nullptr) HQP_RETURN_IF_ERROR(group->all_reduce(std::span<int64_t>(v, 2)));
  return v[1] > 0 ? static_cast<double>(v[0]) / static_cast<double>(v[1]) : 0.0;
}

Result<double> rank0_value(ProcessGroup* group, double value) {
  if (group != nullptr) HQP_RETURN_IF_ERROR(group->broadcast(std::span<double>(&value, 1), 0));
  return value;
}

Status ProcessGroup::barrier() {
  // An allreduce rather than c10d's barrier: Gloo's barrier ignores the timeout on some paths.
  int64_t one = 1;
  return all_reduce(std::span<int64_t>(&one, 1));
}

Status broadcast_tensors(ProcessGroup& group, std::vector<at::Tensor>& tensors, int root, const std::string& what) {
  if (tensors.empty()) return Status();
  return guarded(group, what, [&](c10d::ProcessGroupGloo& pg) {
    // One flat buffer per dtype keeps it to a few messages.
    std::vector<at::Tensor> flat_inputs;
    for (at::Tensor& t : tensors) flat_inputs.push_back(t.detach().reshape({-1}).to(at::kDouble));
    at::Tensor flat = at::cat(flat_inputs);
    std::vector<at::Tensor> v{flat};
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    pg.broadcast(v, opts)->wait();
    int64_t offset = 0;
    at::NoGradGuard no_grad;
    for (at::Tensor& t : tensors) {
      const int64_t n = t.numel();
      t.copy_(flat.narrow(0, offset, n).view(t.sizes()));
      offset += n;
    }
  });
}

}  // namespace hqp::distributed
