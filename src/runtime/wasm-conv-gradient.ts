import * as tf from '@tensorflow/tfjs';

/**
 * TensorFlow.js's wasm backend (4.22) has no `Conv2DBackpropFilter` kernel, so no convolution's
 * kernel can be trained on it. It has `Conv3DBackpropFilterV2`, and a 2-D convolution is a 3-D
 * one of depth 1: this registers the missing kernel as that, through reshapes that share the
 * data. The kernel gradient is then the wasm backend's own, computed in its compiled code.
 */

type KernelArgs = Parameters<tf.KernelFunc>[0];

function wasmKernel(name: string): tf.KernelFunc {
  const config = tf.getKernel(name, 'wasm');
  if (!config) throw new Error(`the wasm backend has no '${name}' kernel to build on`);
  return config.kernelFunc;
}

function conv2DBackpropFilterViaConv3D({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, filterShape } = attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number;
    dataFormat: 'NHWC' | 'NCHW';
    filterShape: [number, number, number, number];
  };
  if (dataFormat !== 'NHWC' || typeof pad === 'number')
    throw new Error(
      `the wasm convolution gradient takes NHWC maps and 'same' or 'valid' padding, got ${dataFormat} and ${pad}`,
    );
  const [strideH, strideW] = typeof strides === 'number' ? [strides, strides] : strides;
  const reshape = wasmKernel('Reshape');
  const withDepthOne = (t: tf.TensorInfo) =>
    reshape({ inputs: { x: t }, backend, attrs: { shape: [t.shape[0]!, 1, ...t.shape.slice(1)] } });
  const [x5, dy5] = [withDepthOne(x), withDepthOne(dy)] as tf.TensorInfo[];
  const dw5 = wasmKernel('Conv3DBackpropFilterV2')({
    inputs: { x: x5!, dy: dy5! },
    backend,
    attrs: { strides: [1, strideH, strideW], pad, filterShape: [1, ...filterShape] },
  }) as tf.TensorInfo;
  const dw = reshape({ inputs: { x: dw5 }, backend, attrs: { shape: filterShape } });
  // The reshapes share their input's data: release the views and the 5-D result.
  for (const view of [x5!, dy5!, dw5]) (backend as tf.KernelBackend).disposeData(view.dataId);
  return dw as tf.TensorInfo;
}

/** Registers the kernel once the wasm backend exists; a no-op where it is already there. */
export function addWasmConvolutionGradient(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: conv2DBackpropFilterViaConv3D,
  });
}
