/**
 * A TensorFlow 1 graph, written down node by node: what the guide's Python built with
 * `tf.placeholder`, `tf.get_variable`, `tf.control_dependencies` and `tf.add_to_collection`.
 * Nothing runs here; `saved-model.ts` hands the finished graph to TensorFlow's session.
 */

export type DType = 'float32' | 'int32' | 'bool';

/** An attribute value, tagged where JSON alone would be ambiguous (a number: float or int?). */
export type AttrValue =
  | boolean
  | string
  | { type: DType }
  | { float: number }
  | { int: number }
  | { ints: number[] }
  | { shape: number[] }
  | { tensor: ConstantValue };

export const attr = {
  type: (dtype: DType) => ({ type: dtype }),
  float: (value: number) => ({ float: value }),
  int: (value: number) => ({ int: value }),
  ints: (values: number[]) => ({ ints: values }),
  shape: (dims: number[]) => ({ shape: dims }),
};

/** A constant's values and shape, row-major. */
export interface ConstantValue {
  dtype: DType;
  shape: number[];
  values: ArrayLike<number> | boolean[];
}

/** One node of the graph, as TensorFlow's NodeDef has it. */
export interface GraphNode {
  name: string;
  op: string;
  /** 'node:output' for data inputs, '^node' for control inputs (run-before, no value). */
  inputs: string[];
  attrs: Record<string, AttrValue>;
}

/** The `index`-th output of a node: what `tf.Tensor` meant in a TF1 graph. */
export class GraphTensor {
  constructor(
    readonly node: string,
    readonly index = 0,
  ) {}
  /** TensorFlow's name for it, e.g. 'layer1/dense/MatMul:0'. */
  get name(): string {
    return `${this.node}:${this.index}`;
  }
}

/** A node whose outputs are not used, only its effect (an assignment, a NoOp). */
export type GraphOp = GraphTensor | { node: string };

/** A resource variable: its handle, one read of it, and the value it starts from. */
export interface GraphVariable {
  name: string;
  handle: GraphTensor;
  /** The variable's value, read once per run where this tensor is used. */
  value: GraphTensor;
  initial: ConstantValue;
}

// TensorFlow's DataType enum; DT_RESOURCE (20) is missing from tfjs-node's generated protos.
export const DATA_TYPES: Record<DType | 'resource', number> = {
  float32: 1,
  int32: 3,
  bool: 10,
  resource: 20,
};

export class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly variables: GraphVariable[] = [];
  readonly collections = new Map<string, GraphOp[]>();
  private readonly scopes: string[] = [];
  private readonly controlScopes: GraphOp[][] = [];
  private readonly used = new Set<string>();

  /** Names are unique, like TensorFlow's: a second 'MatMul' in a scope becomes 'MatMul_1'. */
  private uniqueName(name: string): string {
    const full = [...this.scopes, name].join('/');
    let candidate = full;
    for (let i = 1; this.used.has(candidate); i++) candidate = `${full}_${i}`;
    this.used.add(candidate);
    return candidate;
  }

  /** `with tf.name_scope(scope):` */
  scope<T>(scope: string, body: () => T): T {
    this.scopes.push(scope);
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  /** `with tf.control_dependencies(ops):` every node made in `body` runs after `ops`. */
  controlDependencies<T>(ops: GraphOp[], body: () => T): T {
    this.controlScopes.push(ops);
    try {
      return body();
    } finally {
      this.controlScopes.pop();
    }
  }

  /** Adds one node; returns its first `outputs` outputs. */
  op(
    type: string,
    inputs: GraphTensor[],
    attrs: Record<string, AttrValue> = {},
    options: { name?: string; controlInputs?: GraphOp[] } = {},
  ): GraphTensor {
    return this.opWithOutputs(type, inputs, attrs, 1, options)[0]!;
  }

  /** Adds one node with several outputs. */
  opWithOutputs(
    type: string,
    inputs: GraphTensor[],
    attrs: Record<string, AttrValue>,
    outputs: number,
    options: { name?: string; controlInputs?: GraphOp[] } = {},
  ): GraphTensor[] {
    const name = this.uniqueName(options.name ?? type);
    const control = [...this.controlScopes.flat(), ...(options.controlInputs ?? [])];
    this.nodes.push({
      name,
      op: type,
      inputs: [
        ...inputs.map((t) => t.name),
        ...[...new Set(control.map((c) => c.node))].map((node) => `^${node}`),
      ],
      attrs,
    });
    return Array.from({ length: outputs }, (_, i) => new GraphTensor(name, i));
  }

  /** `tf.placeholder(dtype, shape, name)`: a value fed at every run; -1 is any size. */
  placeholder(name: string, dtype: DType, shape: number[]): GraphTensor {
    return this.op(
      'Placeholder',
      [],
      { dtype: attr.type(dtype), shape: attr.shape(shape) },
      { name },
    );
  }

  /** `tf.constant(values)` */
  constant(name: string, value: ConstantValue): GraphTensor {
    return this.op(
      'Const',
      [],
      { dtype: attr.type(value.dtype), value: { tensor: value } },
      { name },
    );
  }

  /** A float32 scalar constant. */
  scalar(name: string, value: number): GraphTensor {
    return this.constant(name, { dtype: 'float32', shape: [], values: [value] });
  }

  /**
   * `tf.get_variable(name, initializer=initial)`, as a resource variable. Its handle is shared
   * by name across runs of the session, so its value lives from one run to the next; it is
   * set to `initial` once, when the model loads (see `initialization`).
   */
  variable(name: string, initial: ConstantValue): GraphVariable {
    const handle = this.op(
      'VarHandleOp',
      [],
      {
        dtype: attr.type(initial.dtype),
        shape: attr.shape(initial.shape),
        shared_name: name,
        container: '',
      },
      { name },
    );
    const value = this.scope(name, () =>
      this.op('ReadVariableOp', [handle], { dtype: attr.type(initial.dtype) }, { name: 'read' }),
    );
    const variable = { name, handle, value, initial };
    this.variables.push(variable);
    return variable;
  }

  /** `tf.add_to_collection(name, op)` */
  addToCollection(name: string, op: GraphOp): void {
    this.collections.set(name, [...(this.collections.get(name) ?? []), op]);
  }

  /** `tf.get_collection(name)` */
  collection(name: string): GraphOp[] {
    return this.collections.get(name) ?? [];
  }

  /** `tf.group(*ops)`: one NoOp that runs after all of them. */
  group(name: string, ops: GraphOp[]): GraphOp {
    return this.op('NoOp', [], {}, { name, controlInputs: ops });
  }

  /** `tf.identity(value)` that is computed only after `ops` ran. */
  after(name: string, value: GraphTensor, ops: GraphOp[]): GraphTensor {
    return this.op('Identity', [value], { T: attr.type('float32') }, { name, controlInputs: ops });
  }

  /**
   * What `tf.global_variables_initializer()` was: every variable assigned its initial value.
   * The SavedModel loader runs it once, when the model loads.
   */
  initialization(): GraphOp {
    const assigns = this.scope('init', () =>
      this.variables.map((v) =>
        this.op(
          'AssignVariableOp',
          [v.handle, this.constant(`${v.name}/initial_value`, v.initial)],
          { dtype: attr.type(v.initial.dtype) },
          { name: `assign_${v.name.replace(/\//g, '_')}` },
        ),
      ),
    );
    return this.group('init_all_variables', assigns);
  }
}
