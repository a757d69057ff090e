// hqp_make_qdq IN.onnx OUT.onnx [--calib-batches N] [--shape 1x3x224x224] [--seed S] [--s8]
// Test / benchmark helper (not the product CLI, not installed): quantizes a float model with
// quant::insert_qdq, calibrated on seeded N(0, 1) random inputs, and writes the QDQ model
// atomically. Random data suits random-weight models only; real models need real calibration data.
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "onnx/export.h"
#include "onnx/import.h"
#include "quant/insert_qdq.h"

namespace {

using namespace hqp;

struct Options {
  std::string in;
  std::string out;
  int calib_batches = 4;
  std::string shape;
  uint32_t seed = 1;
  bool s8 = false;
};

Result<Shape> parse_shape(const std::string& text) {
  Shape s;
  size_t pos = 0;
  while (true) {
    const size_t x = text.find('x', pos);
    const std::string part = text.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != part.size() || v <= 0) {
      return make_error(StatusCode::kInvalidArgument, "cannot parse --shape '{}': '{}' is not a positive integer",
                        text, part);
    }
    s.push_back(v);
    if (x == std::string::npos) return s;
    pos = x + 1;
  }
}

// The calibration shape of the model's one input: --shape, or its static dims with symbolic dims 1.
Result<Shape> input_shape(const ir::Graph& g, const Options& o) {
  if (g.inputs().size() != 1 || g.inputs()[0]->dtype != DType::kF32 || !g.inputs()[0]->shape) {
    return make_error(StatusCode::kUnsupported,
                      "cannot calibrate model '{}': it has {} inputs (expected one f32 input of known rank)", o.in,
                      g.inputs().size());
  }
  const ir::Value& v = *g.inputs()[0];
  if (!o.shape.empty()) {
    HQP_ASSIGN_OR_RETURN(Shape s, parse_shape(o.shape));
    if (s.size() != v.shape->size()) {
      return make_error(StatusCode::kInvalidArgument, "cannot use --shape '{}' for input '{}' {} (expected rank {})",
                        o.shape, v.name, ir::dims_to_string(*v.shape), v.shape->size());
    }
    return s;
  }
  Shape s;
  for (const ir::Dim& d : *v.shape) s.push_back(d.is_static() ? d.value : 1);
  return s;
}

Status make_qdq(const Options& o) {
  if (o.calib_batches < 1) {
    return make_error(StatusCode::kInvalidArgument, "cannot calibrate: --calib-batches {} (expected >= 1)",
                      o.calib_batches);
  }
  HQP_ASSIGN_OR_RETURN(ir::Graph g, onnx_io::import_model_file(o.in));
  HQP_ASSIGN_OR_RETURN(Shape shape, input_shape(g, o));
  quant::CalibrationData calib;
  std::mt19937 rng(o.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int b = 0; b < o.calib_batches; ++b) {
    HQP_ASSIGN_OR_RETURN(Tensor t, Tensor::zeros(DType::kF32, shape));
    for (float& x : t.span<float>()) x = normal(rng);
    calib.batches.push_back({std::move(t)});
  }
  quant::QdqOptions options;
  if (o.s8) options.activations = quant::ActivationScheme::kS8Symmetric;
  HQP_ASSIGN_OR_RETURN(quant::QdqStats s, quant::insert_qdq(g, calib, options));
  HQP_RETURN_IF_ERROR(onnx_io::export_model_file(g, o.out));
  fmt::print("{}: {} convs + {} gemms quantized ({} kept float), {} activations quantized, {} residual adds, "
             "{} batchnorms folded, calibrated on {} x {}\n",
             o.out, s.quantized_convs, s.quantized_gemms, s.float_compute, s.quantized_activations, s.residual_adds,
             s.batchnorms_folded, s.calibration_batches, shape_to_string(shape));
  return Status();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Quantize a float ONNX model to QDQ INT8 (calibrated on seeded random inputs)"};
  app.add_option("input", o.in, "Float ONNX model")->required();
  app.add_option("output", o.out, "QDQ ONNX model to write")->required();
  app.add_option("--calib-batches", o.calib_batches, "Calibration batches of random N(0,1) data");
  app.add_option("--shape", o.shape, "Calibration input shape, e.g. 1x3x224x224 (default: static dims, batch 1)");
  app.add_option("--seed", o.seed, "Seed of the random calibration data");
  app.add_flag("--s8", o.s8, "s8 symmetric activations (default u8 asymmetric)");
  CLI11_PARSE(app, argc, argv);
  const Status st = make_qdq(o);
  if (!st.ok()) {
    std::fprintf(stderr, "hqp_make_qdq: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}
