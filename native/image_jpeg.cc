// A random-resized crop straight from JPEG bytes, for the streamed training batches' worker
// threads (the odc_image addon). libjpeg-turbo decodes only what the crop needs: the DCT scales down by 2, 4 or 8 when the
// crop box is that much larger than the output (shrink-on-load), the rows above and below the box are
// skipped and the columns outside it are not converted (jpeg_crop_scanline). The box is then resampled
// to S x S with PIL's bilinear filter (a triangle widened by the scale when reducing, weights clipped
// to the box: torchvision's crop-then-resize), flipped if asked, and returned as [3, S, S] planes.
// No libtorch and no state: safe in any number of worker threads.
#include "image_jpeg.h"

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void OnError(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  (*c->err->format_message)(c, e->message);
  longjmp(e->jump, 1);
}

// Warnings about recoverable damage are ignored (as PIL and libvips do), except a file that ends
// before its last scan: a truncated image is an unreadable one.
void OnMessage(j_common_ptr c, int level) {
  if (level == -1 && c->err->msg_code == JWRN_JPEG_EOF) OnError(c);
}

/** One output pixel's source taps along an axis: first index and normalised weights. */
struct Taps {
  int first;
  std::vector<float> w;
};

// PIL's precompute_coeffs for the bilinear filter: output pixel i samples around
// in0 + (i + 0.5) * scale, with a support widened by the scale when reducing, clipped to [0, inSize).
std::vector<Taps> Coefficients(double in0, double inLen, int inSize, int outSize) {
  const double scale = inLen / outSize;
  const double filterScale = std::max(1.0, scale);
  const double support = filterScale;  // the triangle's support is 1
  std::vector<Taps> out(outSize);
  for (int i = 0; i < outSize; i++) {
    const double center = in0 + (i + 0.5) * scale;
    int lo = static_cast<int>(center - support + 0.5);
    int hi = static_cast<int>(center + support + 0.5);
    lo = std::max(lo, 0);
    hi = std::min(hi, inSize);
    Taps t{lo, {}};
    double sum = 0;
    for (int x = lo; x < hi; x++) {
      const double d = std::fabs((x - center + 0.5) / filterScale);
      const double w = d < 1 ? 1 - d : 0;
      t.w.push_back(static_cast<float>(w));
      sum += w;
    }
    if (sum > 0) {
      for (auto& w : t.w) w = static_cast<float>(w / sum);
    } else {
      t.w.assign(1, 1.0f);
      t.first = std::min(std::max(static_cast<int>(center), 0), inSize - 1);
    }
    out[i] = std::move(t);
  }
  return out;
}

[[noreturn]] void ThrowJpeg(Napi::Env env, const char* what) {
  throw Napi::Error::New(env, std::string("JPEG: ") + what);
}

Napi::Uint8Array BytesOf(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), "odc_image: the first argument must be a Uint8Array of JPEG bytes");
  }
  return info[0].As<Napi::Uint8Array>();
}

// libjpeg's errors, and a file that ends too soon, longjmp to err->jump (set by the caller's setjmp).
void UseErrors(jpeg_decompress_struct* cinfo, ErrorManager* err) {
  cinfo->err = jpeg_std_error(&err->pub);
  err->pub.error_exit = OnError;
  err->pub.emit_message = OnMessage;
}

// After the caller's setjmp: a decompressor over `data` with its header read.
void OpenWithHeader(jpeg_decompress_struct* cinfo, const uint8_t* data, size_t length) {
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, data, length);
  jpeg_read_header(cinfo, TRUE);
}

// Where a longjmp lands: the message kept, the decompressor freed.
bool Failed(jpeg_decompress_struct* cinfo, const ErrorManager& err, char* message) {
  jpeg_destroy_decompress(cinfo);
  std::snprintf(message, JMSG_LENGTH_MAX, "%s", err.message);
  return false;
}

bool IsCmyk(const jpeg_decompress_struct& cinfo) { return cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK; }

// The image's size and whether it is CMYK/YCCK, from its header; false with the message in `message`.
bool ReadSize(const uint8_t* data, size_t length, unsigned* width, unsigned* height, bool* cmyk, char* message) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  UseErrors(&cinfo, &err);
  if (setjmp(err.jump)) return Failed(&cinfo, err, message);
  OpenWithHeader(&cinfo, data, length);
  *cmyk = IsCmyk(cinfo);
  *width = cinfo.image_width;
  *height = cinfo.image_height;
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

// jpegSize(bytes) -> [width, height], or null when the image is CMYK/YCCK (the caller decodes those otherwise).
Napi::Value JpegSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto bytes = BytesOf(info);
  unsigned width = 0, height = 0;
  bool cmyk = false;
  char message[JMSG_LENGTH_MAX];
  if (!ReadSize(bytes.Data(), bytes.ByteLength(), &width, &height, &cmyk, message)) ThrowJpeg(env, message);
  if (cmyk) return env.Null();
  auto out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, width));
  out.Set(1u, Napi::Number::New(env, height));
  return out;
}

namespace {

/** The decoded pixels a crop box covers: whole RGB rows of the box's columns, and where the box lies in them. */
struct Region {
  std::vector<uint8_t> rgb;
  int stride = 0;  // bytes per decoded row
  int rows = 0;
  int firstRow = 0;  // rows of `rgb` before the box's first (the margin read above it)
  int cols = 0;    // columns of the box's pixels: [colBase, colBase + cols) of each row
  int colBase = 0;
  double bx = 0, by = 0, bw = 0, bh = 0;  // the box relative to that area, in decoded pixels
};

// Decodes what box (top, left, boxH, boxW) of the JPEG needs for an output of `size` pixels into
// `out`. Returns false with libjpeg's (or its own) message in `message`. Only C frames lie between
// setjmp and longjmp (`out` belongs to the caller): nothing here has a destructor to skip.
bool DecodeBox(const uint8_t* data, size_t length, int top, int left, int boxH, int boxW, int size, Region* out, char* message) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  UseErrors(&cinfo, &err);
  if (setjmp(err.jump)) return Failed(&cinfo, err, message);
  OpenWithHeader(&cinfo, data, length);
  if (IsCmyk(cinfo)) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(message, JMSG_LENGTH_MAX, "CMYK images are decoded by libvips");
    return false;
  }
  if (top + boxH > static_cast<int>(cinfo.image_height) || left + boxW > static_cast<int>(cinfo.image_width)) {
    std::snprintf(message, JMSG_LENGTH_MAX, "box [%d, %d, %d, %d] outside the %ux%u image", top, left, boxH, boxW, cinfo.image_width, cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = JCS_RGB;
  // Shrink-on-load: the largest DCT scaling that keeps the box at least `size` pixels each way.
  unsigned denom = 1;
  while (denom < 8 && boxW / static_cast<int>(denom * 2) >= size && boxH / static_cast<int>(denom * 2) >= size) denom *= 2;
  cinfo.scale_num = 1;
  cinfo.scale_denom = denom;
  jpeg_start_decompress(&cinfo);

  // The box in the decoded (possibly scaled) image, and the pixels it covers.
  const double sx = static_cast<double>(cinfo.output_width) / cinfo.image_width;
  const double sy = static_cast<double>(cinfo.output_height) / cinfo.image_height;
  const double bx = left * sx, by = top * sy, bw = boxW * sx, bh = boxH * sy;
  const int c0 = std::max(0, static_cast<int>(std::floor(bx)));
  const int c1 = std::min(static_cast<int>(cinfo.output_width), static_cast<int>(std::ceil(bx + bw)));
  const int r0 = std::max(0, static_cast<int>(std::floor(by)));
  const int r1 = std::min(static_cast<int>(cinfo.output_height), static_cast<int>(std::ceil(by + bh)));
  // Only the box's columns are converted (widened by libjpeg to whole blocks), and a margin around
  // them: at the edge of a cropped or skipped area the chroma upsampling has no neighbours to
  // interpolate from, which would change the box's outer pixels.
  const int margin = 16;
  const int d0 = std::max(0, c0 - margin);
  const int d1 = std::min(static_cast<int>(cinfo.output_width), c1 + margin);
  const int skip = std::max(0, r0 - margin);
  JDIMENSION xoff = d0, cropWidth = d1 - d0;
  if (cropWidth < cinfo.output_width) jpeg_crop_scanline(&cinfo, &xoff, &cropWidth);
  out->stride = 3 * static_cast<int>(cinfo.output_width);
  out->rows = r1 - r0;
  out->cols = c1 - c0;
  out->colBase = c0 - static_cast<int>(xoff);
  out->bx = bx - c0;
  out->by = by - r0;
  out->bw = bw;
  out->bh = bh;
  // The margin's rows above the box are read too (their upsampling context); the box starts after them.
  out->firstRow = r0 - skip;
  out->rgb.resize(static_cast<size_t>(r1 - skip) * out->stride);
  // Rows above are skipped (not colour-converted or upsampled), rows below never decoded.
  if (skip > 0) jpeg_skip_scanlines(&cinfo, skip);
  int got = 0;
  while (got < r1 - skip) {
    JSAMPROW row = out->rgb.data() + static_cast<size_t>(got) * out->stride;
    got += static_cast<int>(jpeg_read_scanlines(&cinfo, &row, 1));
  }
  jpeg_abort_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

}  // namespace

// cropJpeg(bytes, top, left, height, width, size, flip) -> Uint8Array [3, size, size]: the box
// (in the image's pixels) resampled to size x size.
Napi::Value CropJpeg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto bytes = BytesOf(info);
  if (info.Length() < 7) throw Napi::TypeError::New(env, "cropJpeg(bytes, top, left, height, width, size, flip)");
  const int top = info[1].As<Napi::Number>().Int32Value();
  const int left = info[2].As<Napi::Number>().Int32Value();
  const int boxH = info[3].As<Napi::Number>().Int32Value();
  const int boxW = info[4].As<Napi::Number>().Int32Value();
  const int size = info[5].As<Napi::Number>().Int32Value();
  const bool flip = info[6].ToBoolean().Value();
  if (size < 1 || size > 4096 || boxH < 1 || boxW < 1 || top < 0 || left < 0) {
    throw Napi::RangeError::New(env, "cropJpeg: box [" + std::to_string(top) + ", " + std::to_string(left) + ", " + std::to_string(boxH) + ", " +
                                         std::to_string(boxW) + "] or size " + std::to_string(size) + " out of range");
  }
  Region region;
  char message[JMSG_LENGTH_MAX];
  if (!DecodeBox(bytes.Data(), bytes.ByteLength(), top, left, boxH, boxW, size, &region, message)) ThrowJpeg(env, message);

  // Separable resampling: the box's rows to `size` columns, then the columns to `size` rows.
  const auto cx = Coefficients(region.bx, region.bw, region.cols, size);
  const auto cy = Coefficients(region.by, region.bh, region.rows, size);
  std::vector<float> horizontal(static_cast<size_t>(region.rows) * size * 3);
  for (int r = 0; r < region.rows; r++) {
    const uint8_t* src = region.rgb.data() + static_cast<size_t>(region.firstRow + r) * region.stride + 3 * region.colBase;
    float* dst = horizontal.data() + static_cast<size_t>(r) * size * 3;
    for (int x = 0; x < size; x++) {
      const Taps& t = cx[x];
      float a = 0, b = 0, c = 0;
      for (size_t k = 0; k < t.w.size(); k++) {
        const uint8_t* p = src + 3 * (t.first + static_cast<int>(k));
        a += t.w[k] * p[0];
        b += t.w[k] * p[1];
        c += t.w[k] * p[2];
      }
      dst[3 * x] = a;
      dst[3 * x + 1] = b;
      dst[3 * x + 2] = c;
    }
  }
  auto out = Napi::Uint8Array::New(env, static_cast<size_t>(3) * size * size);
  uint8_t* planes = out.Data();
  const size_t plane = static_cast<size_t>(size) * size;
  for (int y = 0; y < size; y++) {
    const Taps& t = cy[y];
    for (int x = 0; x < size; x++) {
      float v[3] = {0, 0, 0};
      for (size_t k = 0; k < t.w.size(); k++) {
        const float* p = horizontal.data() + (static_cast<size_t>(t.first + static_cast<int>(k)) * size + x) * 3;
        v[0] += t.w[k] * p[0];
        v[1] += t.w[k] * p[1];
        v[2] += t.w[k] * p[2];
      }
      const int ox = flip ? size - 1 - x : x;
      for (int ch = 0; ch < 3; ch++) {
        const float q = std::round(v[ch]);
        planes[ch * plane + static_cast<size_t>(y) * size + ox] = static_cast<uint8_t>(q < 0 ? 0 : q > 255 ? 255 : q);
      }
    }
  }
  return out;
}
