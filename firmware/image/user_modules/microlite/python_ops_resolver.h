// The operators the firmware can run. microlite's binding (openmv-libtf-updated.cpp)
// builds a tflite::PythonOpsResolver; this header replaces the one it expects with a
// resolver that registers only what an int8 image classifier uses, so the linker
// drops every other kernel and the image stays inside its flash partition.
// A model with another op fails at load with "Didn't find op for builtin opcode":
// add the op to ops_resolver.cc (tests/firmware_image checks the default model).
#ifndef SMARTBIN_PYTHON_OPS_RESOLVER_H_
#define SMARTBIN_PYTHON_OPS_RESOLVER_H_

#include "tensorflow/lite/micro/compatibility.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

namespace tflite {

// Room for every Add*() call in ops_resolver.cc (AddXxx() fails past this count).
constexpr unsigned int kSmartbinOpCapacity = 32;

class PythonOpsResolver : public MicroMutableOpResolver<kSmartbinOpCapacity> {
 public:
  PythonOpsResolver();

 private:
  TF_LITE_REMOVE_VIRTUAL_DELETE
};

}  // namespace tflite

#endif  // SMARTBIN_PYTHON_OPS_RESOLVER_H_
