// The rest of a streamed training image's augmentation, in the worker thread that cropped it: the
// rotation about the centre, the four colour-jitter operations in the image's own order, the random
// grayscale and the normalisation, from [3, S, S] uint8 planes to [3, S, S] float32. The same
// arithmetic as src/data/tensor_augment.ts (the batched tensor version), image by image.
#include "image_augment.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace {

constexpr float kLuma[3] = {0.299f, 0.587f, 0.114f};

inline float Clamp01(float v) { return std::min(std::max(v, 0.0f), 1.0f); }

// Rotation by `degrees` as affine_grid (align_corners false) + grid_sample (bilinear, border
// padding), zero where the rotated frame leaves the image: planes [3, S, S] in [0, 1]. The source
// position of output pixel (i, j) is centre + R (j - centre, i - centre) in pixels, so it moves by a
// constant step along a row.
void Rotate(const std::vector<float>& in, std::vector<float>& out, int s, double degrees) {
  const double r = degrees * M_PI / 180.0;
  const float c = static_cast<float>(std::cos(r)), sn = static_cast<float>(std::sin(r));
  const float mid = (s - 1) / 2.0f;
  const float lo = -0.5f, hi = s - 0.5f, last = static_cast<float>(s - 1);
  const size_t plane = static_cast<size_t>(s) * s;
  for (int i = 0; i < s; i++) {
    float px = mid + c * (0 - mid) + sn * (i - mid);
    float py = mid - sn * (0 - mid) + c * (i - mid);
    for (int j = 0; j < s; j++, px += c, py -= sn) {
      const size_t o = static_cast<size_t>(i) * s + j;
      if (px < lo || px > hi || py < lo || py > hi) {
        out[o] = out[plane + o] = out[2 * plane + o] = 0;
        continue;
      }
      const float x = std::min(std::max(px, 0.0f), last), y = std::min(std::max(py, 0.0f), last);
      const int x0 = static_cast<int>(x), y0 = static_cast<int>(y);
      const int x1 = std::min(x0 + 1, s - 1), y1 = std::min(y0 + 1, s - 1);
      const float wx = x - x0, wy = y - y0;
      const size_t a = static_cast<size_t>(y0) * s, b = static_cast<size_t>(y1) * s;
      for (int ch = 0; ch < 3; ch++) {
        const float* p = in.data() + ch * plane;
        const float top = p[a + x0] + (p[a + x1] - p[a + x0]) * wx;
        const float bottom = p[b + x0] + (p[b + x1] - p[b + x0]) * wx;
        out[ch * plane + o] = top + (bottom - top) * wy;
      }
    }
  }
}

inline float LumaAt(const float* x, size_t plane, size_t i) { return kLuma[0] * x[i] + kLuma[1] * x[plane + i] + kLuma[2] * x[2 * plane + i]; }

// torchvision's hue shift through HSV (see tensor_augment.ts's hueShift for the closed form).
void ShiftHue(float* x, size_t plane, float shift) {
  for (size_t i = 0; i < plane; i++) {
    const float r = x[i], g = x[plane + i], b = x[2 * plane + i];
    const float max = std::max(r, std::max(g, b));
    const float min = std::min(r, std::min(g, b));
    const float d = max - min;
    const float safe = d == 0 ? 1 : d;
    // hue in sixths: the channel after the largest minus the one after that, plus 2 per channel index
    float h = r >= g && r >= b ? (g - b) / safe : g >= b ? (b - r) / safe + 2 : (r - g) / safe + 4;
    h = h / 6 + shift;
    h = (h - std::floor(h)) * 6;  // [0, 6)
    float k[3] = {h + 5, h + 3, h + 1};
    for (int n = 0; n < 3; n++) {
      if (k[n] >= 6) k[n] -= 6;
      const float t = std::min(std::max(std::min(k[n], 4 - k[n]), 0.0f), 1.0f);
      x[n * plane + i] = max - d * t;
    }
  }
}

void Jitter(float* x, size_t plane, int op, const PostParams& p) {
  const size_t n = 3 * plane;
  if (op == 0 && p.brightness != 1) {
    for (size_t i = 0; i < n; i++) x[i] = Clamp01(x[i] * p.brightness);
  } else if (op == 1 && p.contrast != 1) {
    double sum = 0;
    for (size_t i = 0; i < plane; i++) sum += LumaAt(x, plane, i);
    const float mean = static_cast<float>(sum / plane);
    const float f = p.contrast;
    for (size_t i = 0; i < n; i++) x[i] = Clamp01(x[i] * f + mean * (1 - f));
  } else if (op == 2 && p.saturation != 1) {
    const float f = p.saturation;
    for (size_t i = 0; i < plane; i++) {
      const float g = LumaAt(x, plane, i) * (1 - f);
      for (int c = 0; c < 3; c++) x[c * plane + i] = Clamp01(x[c * plane + i] * f + g);
    }
  } else if (op == 3 && p.hue != 0) {
    ShiftHue(x, plane, p.hue);
  }
}

}  // namespace

std::string AugmentPlanes(const uint8_t* planes, int size, const PostParams& p, float* out) {
  if (size < 1) return "size must be positive";
  for (int k = 0; k < 4; k++) {
    if (p.order[k] < 0 || p.order[k] > 3) return "jitter order must hold the operations 0..3";
  }
  const size_t plane = static_cast<size_t>(size) * size;
  // Scratch planes reused by each worker thread's later images (no allocation per image).
  thread_local std::vector<float> x, rotated;
  x.resize(3 * plane);
  for (size_t i = 0; i < 3 * plane; i++) x[i] = planes[i] / 255.0f;
  if (p.angle != 0) {
    rotated.resize(3 * plane);
    Rotate(x, rotated, size, p.angle);
    x.swap(rotated);
  }
  for (int k = 0; k < 4; k++) Jitter(x.data(), plane, p.order[k], p);
  if (p.gray) {
    for (size_t i = 0; i < plane; i++) {
      const float g = LumaAt(x.data(), plane, i);
      x[i] = x[plane + i] = x[2 * plane + i] = g;
    }
  }
  for (int c = 0; c < 3; c++) {
    const float m = p.mean[c], s = p.std[c];
    for (size_t i = 0; i < plane; i++) out[c * plane + i] = (x[c * plane + i] - m) / s;
  }
  return "";
}

Napi::Value AugmentCrop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !info[1].IsNumber() ||
      !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "augmentCrop(planes: Uint8Array, size: number, params: Float64Array)");
  }
  auto planes = info[0].As<Napi::Uint8Array>();
  const int size = info[1].As<Napi::Number>().Int32Value();
  auto v = info[2].As<Napi::Float64Array>();
  if (size < 1 || planes.ByteLength() != static_cast<size_t>(3) * size * size || v.ElementLength() != 16) {
    throw Napi::RangeError::New(env, "augmentCrop: " + std::to_string(planes.ByteLength()) + " bytes for size " + std::to_string(size) + " (expected 3 x size x size) and " +
                                         std::to_string(v.ElementLength()) + " parameters (expected 16)");
  }
  PostParams p;
  p.angle = v[0];
  p.brightness = static_cast<float>(v[1]);
  p.contrast = static_cast<float>(v[2]);
  p.saturation = static_cast<float>(v[3]);
  p.hue = static_cast<float>(v[4]);
  for (int k = 0; k < 4; k++) p.order[k] = static_cast<int>(v[5 + k]);
  p.gray = v[9] != 0;
  for (int c = 0; c < 3; c++) {
    p.mean[c] = static_cast<float>(v[10 + c]);
    p.std[c] = static_cast<float>(v[13 + c]);
  }
  const size_t count = planes.ByteLength();
  Napi::Float32Array out;
  size_t offset = 0;
  if (info.Length() >= 4 && !info[3].IsUndefined()) {
    if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(env, "augmentCrop: out must be a Float32Array");
    }
    out = info[3].As<Napi::Float32Array>();
    const double at = info.Length() >= 5 && info[4].IsNumber() ? info[4].As<Napi::Number>().DoubleValue() : 0;
    if (!(at >= 0) || at != std::floor(at) || at + count > out.ElementLength()) {
      throw Napi::RangeError::New(env, "augmentCrop: offset " + std::to_string(static_cast<long long>(at)) + " + " + std::to_string(count) + " values past the end of out (" +
                                           std::to_string(out.ElementLength()) + ")");
    }
    offset = static_cast<size_t>(at);
  } else {
    out = Napi::Float32Array::New(env, count);
  }
  const std::string error = AugmentPlanes(planes.Data(), size, p, out.Data() + offset);
  if (!error.empty()) throw Napi::RangeError::New(env, "augmentCrop: " + error);
  return out;
}
