import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { tensorflowProtos, tfjsNodeModule } from '../runtime/internals.js';
import {
  DATA_TYPES,
  type AttrValue,
  type ConstantValue,
  type DType,
  type GraphBuilder,
  type GraphOp,
  type GraphTensor,
} from './graph-builder.js';

/**
 * A finished graph as a SavedModel (the format `tf.saved_model` writes), loaded into one
 * TensorFlow session: each `run` is one `TF_SessionRun`, whatever the graph's size. Written
 * with the protobuf classes tfjs-node ships for reading SavedModels (runtime/internals.ts);
 * tensorflow backends only.
 */

/** A tensor a signature feeds or fetches, with the dtype and shape tfjs-node needs to see. */
export interface SignatureTensor {
  tensor: GraphTensor;
  dtype: DType;
  shape: number[];
}

/** One way to call the session: named inputs fed, named outputs fetched. */
export interface Signature {
  inputs: Record<string, SignatureTensor>;
  outputs: Record<string, SignatureTensor>;
}

// The generated classes are untyped JavaScript; these are the members used here.
interface Message {
  serializeBinary(): Uint8Array;
}
interface ProtoMap<V> {
  set(key: string, value: V): void;
}
type Ctor<T> = new () => T;
interface Protos {
  SavedModel: Ctor<
    Message & { setSavedModelSchemaVersion(v: number): void; addMetaGraphs(m: unknown): void }
  >;
  MetaGraphDef: Ctor<{
    setMetaInfoDef(m: unknown): void;
    setGraphDef(g: unknown): void;
    getSignatureDefMap(): ProtoMap<unknown>;
    getCollectionDefMap(): ProtoMap<unknown>;
  }> & { MetaInfoDef: Ctor<{ addTags(t: string): void }> };
  GraphDef: Ctor<{ addNode(n: unknown): void; setVersions(v: unknown): void }>;
  VersionDef: Ctor<{ setProducer(v: number): void }>;
  NodeDef: Ctor<{
    setName(n: string): void;
    setOp(o: string): void;
    addInput(i: string): void;
    getAttrMap(): ProtoMap<unknown>;
  }>;
  AttrValue: Ctor<{
    setB(v: boolean): void;
    setS(v: Uint8Array): void;
    setType(v: number): void;
    setF(v: number): void;
    setI(v: number): void;
    setShape(v: unknown): void;
    setTensor(v: unknown): void;
    setList(v: unknown): void;
  }> & { ListValue: Ctor<{ setIList(v: number[]): void }> };
  TensorShape: Ctor<{ addDim(d: unknown): void }> & {
    Dim: Ctor<{ setSize(n: number): void }>;
  };
  Tensor: Ctor<{
    setDtype(d: number): void;
    setTensorShape(s: unknown): void;
    setTensorContent(bytes: Uint8Array): void;
  }>;
  SignatureDef: Ctor<{
    getInputsMap(): ProtoMap<unknown>;
    getOutputsMap(): ProtoMap<unknown>;
    setMethodName(n: string): void;
  }>;
  TensorInfo: Ctor<{
    setName(n: string): void;
    setDtype(d: number): void;
    setTensorShape(s: unknown): void;
  }>;
  CollectionDef: Ctor<{ setNodeList(l: unknown): void }> & {
    NodeList: Ctor<{ addValue(v: string): void }>;
  };
}

/** tfjs-node's module: its `node` namespace loads SavedModels. */
interface TfjsNode {
  node: {
    loadSavedModel(path: string, tags: string[], signature: string): Promise<LoadedSignature>;
    getNumOfSavedModels(): number;
  };
}
interface LoadedSignature {
  predict(inputs: Record<string, tf.Tensor>): Record<string, tf.Tensor>;
  dispose(): void;
}

let cached: { protos: Protos; tfjsNode: TfjsNode } | undefined;

/** The protobuf classes and the loader; a one-line error where tfjs-node is not the backend. */
function tensorflowModules(): { protos: Protos; tfjsNode: TfjsNode } {
  if (tf.getBackend() !== 'tensorflow')
    throw new Error(
      `TensorFlow sessions need the tensorflow backend (tfjs-node); the active backend is '${tf.getBackend()}'`,
    );
  cached ??= { protos: tensorflowProtos<Protos>(), tfjsNode: tfjsNodeModule<TfjsNode>() };
  return cached;
}

const utf8 = (text: string) => new TextEncoder().encode(text);

function shapeProto(protos: Protos, dims: number[]): unknown {
  const shape = new protos.TensorShape();
  for (const size of dims) {
    const dim = new protos.TensorShape.Dim();
    dim.setSize(size);
    shape.addDim(dim);
  }
  return shape;
}

function tensorProto(protos: Protos, value: ConstantValue): unknown {
  const tensor = new protos.Tensor();
  tensor.setDtype(DATA_TYPES[value.dtype]);
  tensor.setTensorShape(shapeProto(protos, value.shape));
  const typed =
    value.dtype === 'float32'
      ? Float32Array.from(value.values as ArrayLike<number>)
      : value.dtype === 'int32'
        ? Int32Array.from(value.values as ArrayLike<number>)
        : Uint8Array.from(value.values as ArrayLike<number>, Number);
  // Raw little-endian bytes, as TensorFlow itself writes large constants.
  tensor.setTensorContent(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
  return tensor;
}

function attrProto(protos: Protos, value: AttrValue): unknown {
  const proto = new protos.AttrValue();
  if (typeof value === 'boolean') proto.setB(value);
  // A string attribute is bytes; the generated setter would read a JS string as base64.
  else if (typeof value === 'string') proto.setS(utf8(value));
  else if ('type' in value) proto.setType(DATA_TYPES[value.type]);
  else if ('float' in value) proto.setF(value.float);
  else if ('int' in value) proto.setI(value.int);
  else if ('ints' in value) {
    const list = new protos.AttrValue.ListValue();
    list.setIList(value.ints);
    proto.setList(list);
  } else if ('shape' in value) proto.setShape(shapeProto(protos, value.shape));
  else proto.setTensor(tensorProto(protos, value.tensor));
  return proto;
}

function tensorInfo(protos: Protos, spec: SignatureTensor): unknown {
  const info = new protos.TensorInfo();
  info.setName(spec.tensor.name);
  info.setDtype(DATA_TYPES[spec.dtype]);
  info.setTensorShape(shapeProto(protos, spec.shape));
  return info;
}

/** The key TensorFlow's loader looks for: the op it runs once, when the model loads. */
const INIT_OP_KEY = '__saved_model_init_op';

/** saved_model.pb for the graph: one MetaGraphDef tagged 'serve', its signatures and collections. */
export function savedModelBytes(
  graph: GraphBuilder,
  signatures: Record<string, Signature>,
  initOp: GraphOp,
): Uint8Array {
  const { protos } = tensorflowModules();
  const graphDef = new protos.GraphDef();
  const versions = new protos.VersionDef();
  // The GraphDef version of TensorFlow 2.9, the oldest library the project links against.
  versions.setProducer(1087);
  graphDef.setVersions(versions);
  for (const node of graph.nodes) {
    const nodeDef = new protos.NodeDef();
    nodeDef.setName(node.name);
    nodeDef.setOp(node.op);
    for (const input of node.inputs) nodeDef.addInput(input);
    for (const [name, value] of Object.entries(node.attrs))
      nodeDef.getAttrMap().set(name, attrProto(protos, value));
    graphDef.addNode(nodeDef);
  }
  const meta = new protos.MetaGraphDef();
  const info = new protos.MetaGraphDef.MetaInfoDef();
  info.addTags('serve');
  meta.setMetaInfoDef(info);
  meta.setGraphDef(graphDef);
  for (const [name, signature] of Object.entries(signatures)) {
    const def = new protos.SignatureDef();
    def.setMethodName('tensorflow/serving/predict');
    for (const [key, spec] of Object.entries(signature.inputs))
      def.getInputsMap().set(key, tensorInfo(protos, spec));
    for (const [key, spec] of Object.entries(signature.outputs))
      def.getOutputsMap().set(key, tensorInfo(protos, spec));
    meta.getSignatureDefMap().set(name, def);
  }
  const init = new protos.SignatureDef();
  const initInfo = new protos.TensorInfo();
  initInfo.setName(initOp.node);
  init.getOutputsMap().set(INIT_OP_KEY, initInfo);
  meta.getSignatureDefMap().set(INIT_OP_KEY, init);
  for (const [name, ops] of graph.collections) {
    const collection = new protos.CollectionDef();
    const nodes = new protos.CollectionDef.NodeList();
    for (const op of ops) nodes.addValue(op.node);
    collection.setNodeList(nodes);
    meta.getCollectionDefMap().set(name, collection);
  }
  const model = new protos.SavedModel();
  model.setSavedModelSchemaVersion(1);
  model.addMetaGraphs(meta);
  return model.serializeBinary();
}

/**
 * TensorFlow's error in one line that names the node at fault: its message names the node
 * for a shape error ({{node name}}), but only the op type for an unknown op.
 */
function oneLine(error: unknown, what: string, graph?: GraphBuilder): Error {
  const text = error instanceof Error ? error.message : String(error);
  const first = (text.split('\n').find((l) => l.trim() !== '') ?? text).trim();
  const named = /\{\{node ([^}]+)\}\}/.exec(text)?.[1];
  const opType = /Op type not registered '([^']+)'/.exec(text)?.[1];
  const nodes = named
    ? [named]
    : (graph?.nodes.filter((n) => n.op === opType).map((n) => n.name) ?? []);
  const where = nodes.length > 0 && !first.includes(nodes[0]!) ? ` (node ${nodes.join(', ')})` : '';
  // TensorFlow appends advice about tf.contrib after a period; the first sentence says it.
  const sentence = opType ? first.replace(/(not registered '[^']+')[^.]*\..*$/, '$1') : first;
  return new Error(`${what}${where}: ${sentence}`);
}

/** A graph loaded into a TensorFlow session, callable through its signatures. */
export class GraphSession {
  private constructor(private readonly loaded: Map<string, LoadedSignature>) {}

  /** Writes the SavedModel to a temporary folder, loads every signature, removes the folder. */
  static async open(
    graph: GraphBuilder,
    signatures: Record<string, Signature>,
    initOp: GraphOp,
  ): Promise<GraphSession> {
    const { tfjsNode } = tensorflowModules();
    const dir = mkdtempSync(join(tmpdir(), 'batchnorm-ts-graph-'));
    const loaded = new Map<string, LoadedSignature>();
    try {
      writeFileSync(join(dir, 'saved_model.pb'), savedModelBytes(graph, signatures, initOp));
      // Signatures of one folder share one session: its variables are the same for all.
      for (const name of Object.keys(signatures))
        loaded.set(name, await tfjsNode.node.loadSavedModel(dir, ['serve'], name));
    } catch (error) {
      for (const signature of loaded.values()) signature.dispose();
      throw oneLine(error, 'the graph did not load', graph);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return new GraphSession(loaded);
  }

  /** One session run: feeds the signature's inputs, returns its outputs (the caller owns them). */
  run(signature: string, feeds: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
    const loaded = this.loaded.get(signature);
    if (!loaded)
      throw new Error(`no signature '${signature}' (known: ${[...this.loaded.keys()].join(', ')})`);
    try {
      return loaded.predict(feeds);
    } catch (error) {
      throw oneLine(error, `running '${signature}' failed`);
    }
  }

  /** Closes the session (the last signature's dispose deletes it in TensorFlow). */
  dispose(): void {
    for (const signature of this.loaded.values()) signature.dispose();
    this.loaded.clear();
  }
}

/** How many SavedModel sessions tfjs-node holds open: a leak shows here. */
export function openSessionCount(): number {
  return tensorflowModules().tfjsNode.node.getNumOfSavedModels();
}
