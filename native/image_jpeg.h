// JPEG functions of the odc_image addon (image_jpeg.cc).
#pragma once
#include <napi.h>

// jpegSize(bytes) -> [width, height], or null for a CMYK/YCCK image.
Napi::Value JpegSize(const Napi::CallbackInfo& info);
// cropJpeg(bytes, top, left, height, width, size, flip) -> Uint8Array [3, size, size].
Napi::Value CropJpeg(const Napi::CallbackInfo& info);
