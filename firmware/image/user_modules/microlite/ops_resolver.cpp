// The operator list of the firmware image (see smartbin_ops_resolver.h). Conv, depthwise
// conv, fully connected, add, mul, pooling and softmax run on ESP-NN kernels.
#include "smartbin_ops_resolver.h"

namespace smartbin {

OpsResolver::OpsResolver() {
  // Keep alphabetical; one line per builtin operator.
  AddAdd();
  AddAveragePool2D();
  AddConcatenation();
  AddConv2D();
  AddDepthwiseConv2D();
  AddDequantize();
  AddFullyConnected();
  AddHardSwish();
  AddLogistic();
  AddMaxPool2D();
  AddMean();
  AddMul();
  AddPad();
  AddPadV2();
  AddQuantize();
  AddRelu();
  AddRelu6();
  AddReshape();
  AddSoftmax();
  AddSqueeze();
  AddStridedSlice();
  AddSub();
}

}  // namespace smartbin
