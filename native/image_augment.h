// The augmentation after the crop, per image (image_augment.cc), for the odc_image addon.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

/** One image's draws (augment.ts drawParams) and the normalisation. */
struct PostParams {
  double angle = 0;       // degrees
  float brightness = 1;   // factors; 1 = unchanged
  float contrast = 1;
  float saturation = 1;
  float hue = 0;          // shift in turns, 0 = unchanged
  int order[4] = {0, 1, 2, 3};
  bool gray = false;
  float mean[3] = {0, 0, 0};
  float std[3] = {1, 1, 1};
};

// [3, size, size] uint8 planes -> `out` [3, size, size] float32, normalised. Returns an error message, or "" when done.
std::string AugmentPlanes(const uint8_t* planes, int size, const PostParams& p, float* out);

// augmentCrop(planes, size, params: Float64Array[16], out?: Float32Array, offset?: number) ->
// Float32Array [3, size, size] (written into `out` from element `offset` when given); params are
// angle, brightness, contrast, saturation, hue, order[4], gray, mean[3], std[3].
Napi::Value AugmentCrop(const Napi::CallbackInfo& info);
