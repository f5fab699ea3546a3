// odc_image: what the streamed batches' worker threads do to each image in native code (a JPEG's
// random-resized crop, then the rest of its augmentation). No libtorch and no state: every worker
// thread loads its own copy.
#include <napi.h>

#include "image_augment.h"
#include "image_jpeg.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("jpegSize", Napi::Function::New(env, JpegSize, "jpegSize"));
  exports.Set("cropJpeg", Napi::Function::New(env, CropJpeg, "cropJpeg"));
  exports.Set("augmentCrop", Napi::Function::New(env, AugmentCrop, "augmentCrop"));
  return exports;
}

}  // namespace

NODE_API_MODULE(odc_image, Init)
