package dev.qdebug.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.qdebug.ModelException;
import dev.qdebug.onnx.proto.OnnxProtos.AttributeProto;
import dev.qdebug.onnx.proto.OnnxProtos.GraphProto;
import dev.qdebug.onnx.proto.OnnxProtos.ModelProto;
import dev.qdebug.onnx.proto.OnnxProtos.NodeProto;
import dev.qdebug.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.qdebug.onnx.proto.OnnxProtos.StringStringEntryProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorProto;
import dev.qdebug.onnx.proto.OnnxProtos.TensorShapeProto;
import dev.qdebug.onnx.proto.OnnxProtos.TypeProto;
import dev.qdebug.onnx.proto.OnnxProtos.ValueInfoProto;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * An ONNX model held in memory, with every tensor's data inline (external data is read at load).
 * Immutable: the graph view is built once; changes make a new model through {@link #with}.
 *
 * <pre>{@code
 * OnnxModel m = OnnxModel.load(Path.of("model.onnx"));
 * m.inputs();   // graph inputs (initializers excluded)
 * m.nodes();    // in file order
 * m.save(Path.of("copy.onnx"));
 * }</pre>
 */
public final class OnnxModel {
  /** protobuf's own 64 MiB default is too small for real weights; ONNX's format limit is 2 GiB. */
  private static final int MAX_MESSAGE_BYTES = Integer.MAX_VALUE;

  /**
   * The oldest default-domain opset a model file may import: opset 7 brought the numpy-style
   * broadcasting every elementwise op of the engine implements (exporters write 7 and later; the
   * case-study and test models use 9 to 21). Single ops in their older forms are still run in
   * graphs built in code ({@link #of}), which only need an opset from 1.
   */
  public static final int MIN_OPSET = 7;

  /** The newest default-domain opset the engine knows (the newest of ONNX's operator tests). */
  public static final int MAX_OPSET = 25;

  private final ModelProto proto;
  private final String source;
  private final Path path;
  private final List<OnnxNode> nodes;
  private final Map<String, OnnxNode> nodesByName;
  private final Map<String, TensorProto> initializers;
  private final List<ValueInfo> inputs;
  private final List<ValueInfo> outputs;

  private OnnxModel(ModelProto proto, String source, Path path) {
    this.proto = proto;
    this.source = source;
    this.path = path;
    GraphProto g = proto.getGraph();
    Map<String, TensorProto> inits = new LinkedHashMap<>();
    for (TensorProto t : g.getInitializerList()) {
      inits.put(t.getName(), t);
    }
    this.initializers = Collections.unmodifiableMap(inits);
    List<OnnxNode> ns = new ArrayList<>();
    Map<String, OnnxNode> byName = new LinkedHashMap<>();
    Set<String> taken = new HashSet<>();
    for (NodeProto n : g.getNodeList()) {
      if (!n.getName().isEmpty()) {
        taken.add(n.getName());
      }
    }
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      String name = n.getName();
      if (name.isEmpty() || byName.containsKey(name)) {
        String base = (name.isEmpty() ? n.getOpType() : name) + "_" + i;
        name = base;
        for (int k = 1; taken.contains(name); k++) {
          name = base + "_" + k;
        }
        taken.add(name);
      }
      OnnxNode node = new OnnxNode(n, name, i);
      ns.add(node);
      byName.put(name, node);
    }
    this.nodes = Collections.unmodifiableList(ns);
    this.nodesByName = Collections.unmodifiableMap(byName);
    List<ValueInfo> in = new ArrayList<>();
    for (ValueInfoProto v : g.getInputList()) {
      if (!inits.containsKey(v.getName())) {
        in.add(valueInfo(v));
      }
    }
    this.inputs = Collections.unmodifiableList(in);
    List<ValueInfo> out = new ArrayList<>();
    for (ValueInfoProto v : g.getOutputList()) {
      out.add(valueInfo(v));
    }
    this.outputs = Collections.unmodifiableList(out);
  }

  /**
   * Reads an ONNX file. Tensors stored as external data are read from files in the model's folder
   * (or below it); a location that leads outside it is refused.
   *
   * @throws ModelException if the file is missing, truncated or not an ONNX model, or its external
   *     data is missing or outside the model's folder
   */
  public static OnnxModel load(Path file) {
    ModelProto proto;
    if (file.toString().isEmpty()) {
      throw new ModelException("'': an empty path is not a model file");
    }
    if (Files.isDirectory(file)) {
      throw new ModelException(file + ": is a folder, not an ONNX model file");
    }
    if (Files.exists(file) && !Files.isRegularFile(file)) {
      throw new ModelException(file + ": not a regular file (a device or pipe)");
    }
    dev.qdebug.Inputs.add(file, "the model");
    try (InputStream in = Files.newInputStream(file)) {
      CodedInputStream cin = CodedInputStream.newInstance(in);
      cin.setSizeLimit(MAX_MESSAGE_BYTES);
      proto = ModelProto.parseFrom(cin);
    } catch (NoSuchFileException e) {
      throw new ModelException(file + ": no such file");
    } catch (InvalidProtocolBufferException e) {
      throw new ModelException(
          file + ": not a valid ONNX model (truncated or corrupt file): " + e.getMessage(), e);
    } catch (IOException e) {
      throw new ModelException(file + ": cannot read: " + dev.qdebug.data.Npy.ioReason(e), e);
    } catch (RuntimeException e) {
      // protobuf may fail outside its checked exception on hostile bytes
      throw new ModelException(
          file + ": not a valid ONNX model (truncated or corrupt file): " + e.getMessage(), e);
    }
    check(proto, file.toString());
    checkOpset(proto, file.toString(), MIN_OPSET);
    Path dir = file.toAbsolutePath().getParent();
    ModelProto inlined = inlineExternalData(proto, dir, file.toString());
    checkTensors(inlined, file.toString());
    return new OnnxModel(inlined, file.toString(), file);
  }

  /** Parses a model from bytes; {@code source} names it in error messages. */
  public static OnnxModel parse(byte[] bytes, String source) {
    try {
      CodedInputStream cin = CodedInputStream.newInstance(bytes);
      cin.setSizeLimit(MAX_MESSAGE_BYTES);
      ModelProto proto = ModelProto.parseFrom(cin);
      check(proto, source);
      checkOpset(proto, source, MIN_OPSET);
      checkTensors(proto, source);
      return new OnnxModel(proto, source, null);
    } catch (IOException | RuntimeException e) {
      if (e instanceof ModelException m) {
        throw m;
      }
      throw new ModelException(
          source + ": not a valid ONNX model (truncated or corrupt): " + e.getMessage(), e);
    }
  }

  /** Wraps a model built in code; {@code source} names it in error messages. */
  public static OnnxModel of(ModelProto proto, String source) {
    check(proto, source);
    checkTensors(proto, source);
    return new OnnxModel(proto, source, null);
  }

  /**
   * A new model with {@code proto} in place of this one's. It keeps the source name and the file
   * it came from, so that saving it over that file is refused too.
   */
  public OnnxModel with(ModelProto newProto) {
    check(newProto, source);
    return new OnnxModel(newProto, source, path);
  }

  private static void check(ModelProto proto, String source) {
    if (!proto.hasGraph() || proto.getGraph().getNodeCount() == 0) {
      throw new ModelException(source + ": not an ONNX model (no graph or no nodes)");
    }
    if (proto.getGraph().getOutputCount() == 0) {
      throw new ModelException(source + ": the graph declares no outputs");
    }
    checkOpset(proto, source, 1);
    checkGraph(proto.getGraph(), source);
  }

  /** The default-domain opset: imported once, within {@code min}..{@link #MAX_OPSET}. */
  private static void checkOpset(ModelProto proto, String source, int min) {
    Long version = null;
    for (OperatorSetIdProto o : proto.getOpsetImportList()) {
      String d = o.getDomain().equals("ai.onnx") ? "" : o.getDomain();
      if (d.equals("")) {
        if (version != null && version != o.getVersion()) {
          throw new ModelException(
              source + ": imports the default ONNX opset twice (" + version + " and "
                  + o.getVersion() + ")");
        }
        version = o.getVersion();
      }
    }
    if (version == null) {
      throw new ModelException(
          source + ": imports no default ONNX opset (opset_import with domain \"\" or \"ai.onnx\")");
    }
    if (version < min || version > MAX_OPSET) {
      throw new ModelException(
          source + ": opset " + version + " is not supported (supported: " + MIN_OPSET + " to "
              + MAX_OPSET + ")");
    }
  }

  /**
   * The graph's structure: no tensor written by two nodes (or by a node and as a graph input or
   * initializer), no node without an op type, no empty name as a node's first input, no negative
   * declared dimension.
   */
  private static void checkGraph(GraphProto g, String source) {
    Map<String, String> writer = new java.util.HashMap<>();
    Set<String> seen = new HashSet<>();
    for (ValueInfoProto v : g.getInputList()) {
      if (!seen.add(v.getName())) {
        throw new ModelException(source + ": graph input '" + v.getName() + "' is listed twice");
      }
      writer.putIfAbsent(v.getName(), "graph input");
      checkDims(v, "input", source);
    }
    seen.clear();
    for (TensorProto t : g.getInitializerList()) {
      if (!seen.add(t.getName())) {
        throw new ModelException(source + ": initializer '" + t.getName() + "' is listed twice");
      }
      writer.putIfAbsent(t.getName(), "initializer"); // old exporters list it as an input too
    }
    for (ValueInfoProto v : g.getOutputList()) {
      checkDims(v, "output", source);
      if (v.getName().isEmpty()) {
        throw new ModelException(source + ": a graph output has an empty name");
      }
    }
    Set<String> outs = new HashSet<>();
    for (ValueInfoProto v : g.getOutputList()) {
      if (!outs.add(v.getName())) {
        throw new ModelException(source + ": graph output '" + v.getName() + "' is listed twice");
      }
    }
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto n = g.getNode(i);
      String node = "node '" + (n.getName().isEmpty() ? n.getOpType() + "_" + i : n.getName()) + "'";
      if (n.getOpType().isEmpty()) {
        throw new ModelException(source + ": " + node + " has no op type");
      }
      if (n.getInputCount() > 0 && n.getInput(0).isEmpty() && !n.getOpType().equals("Loop")) {
        throw new ModelException(
            source + ": " + node + " (" + n.getOpType() + "): its first input has an empty name"
                + " (only optional inputs may be left out)");
      }
      for (String o : n.getOutputList()) {
        if (o.isEmpty()) {
          continue;
        }
        String before = writer.putIfAbsent(o, node);
        if (before != null) {
          throw new ModelException(
              source + ": tensor '" + o + "' is written by " + node + " and by " + before
                  + " (every tensor has one producer)");
        }
      }
    }
  }

  private static void checkDims(ValueInfoProto v, String what, String source) {
    if (!v.getType().hasTensorType()) {
      return;
    }
    elemType(v.getType().getTensorType().getElemType(), source, what + " '" + v.getName() + "'");
    if (!v.getType().getTensorType().hasShape()) {
      return;
    }
    for (TensorShapeProto.Dimension d : v.getType().getTensorType().getShape().getDimList()) {
      if (d.hasDimValue() && d.getDimValue() < 0) {
        throw new ModelException(
            source + ": " + what + " '" + v.getName() + "' declares a negative dimension "
                + d.getDimValue());
      }
    }
  }

  /**
   * Every tensor held in the model (initializers and tensor attributes): dimensions not negative,
   * an element count that does not overflow, and a payload of that many elements.
   */
  private static void checkTensors(ModelProto proto, String source) {
    GraphProto g = proto.getGraph();
    for (TensorProto t : g.getInitializerList()) {
      checkTensor(t, source, "initializer '" + t.getName() + "'");
    }
    for (NodeProto n : g.getNodeList()) {
      for (AttributeProto a : n.getAttributeList()) {
        String what = "node '" + n.getName() + "' attribute '" + a.getName() + "'";
        if (a.hasT()) {
          checkTensor(a.getT(), source, what);
        }
        for (TensorProto t : a.getTensorsList()) {
          checkTensor(t, source, what);
        }
      }
    }
  }

  private static ElemType elemType(int code, String source, String what) {
    try {
      return ElemType.of(code);
    } catch (ModelException e) {
      throw new ModelException(source + ": " + what + ": " + e.getMessage());
    }
  }

  private static void checkTensor(TensorProto t, String source, String what) {
    long n = 1;
    for (long d : t.getDimsList()) {
      if (d < 0) {
        throw new ModelException(
            source + ": " + what + " has a negative dimension " + d + " in " + t.getDimsList());
      }
      try {
        n = Math.multiplyExact(n, d);
      } catch (ArithmeticException e) {
        throw new ModelException(
            source + ": " + what + ": dimensions " + t.getDimsList() + " overflow");
      }
    }
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
      return; // checked once read
    }
    ElemType type = elemType(t.getDataType(), source, what);
    long have = -1;
    if (!t.getRawData().isEmpty() && type.bytes() > 0) {
      if (t.getRawData().size() % type.bytes() != 0 || t.getRawData().size() / type.bytes() != n) {
        throw new ModelException(
            source + ": " + what + ": raw_data holds " + t.getRawData().size() + " bytes, but "
                + t.getDimsList() + " of " + type + " needs " + n * type.bytes());
      }
      return;
    }
    switch (type) {
      case FLOAT, COMPLEX64 -> have = t.getFloatDataCount();
      case DOUBLE, COMPLEX128 -> have = t.getDoubleDataCount();
      case INT64 -> have = t.getInt64DataCount();
      case UINT32, UINT64 -> have = t.getUint64DataCount();
      case INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16 -> have = t.getInt32DataCount();
      default -> {}
    }
    if (type == ElemType.COMPLEX64 || type == ElemType.COMPLEX128) {
      have /= 2;
    }
    if (have >= 0 && t.getRawData().isEmpty() && have != n) {
      throw new ModelException(
          source + ": " + what + " holds " + have + " values, but its dimensions "
              + t.getDimsList() + " need " + n);
    }
  }

  /**
   * Writes the model to {@code file} atomically (a temporary file in the same folder, then a
   * rename). Refuses to overwrite the file this model was loaded from.
   */
  public void save(Path file) {
    if (path != null && sameFile(path, file)) {
      throw new ModelException(
          file + ": refusing to overwrite the input model; choose another output path");
    }
    dev.qdebug.AtomicFiles.write(file, proto::writeTo);
  }

  private static boolean sameFile(Path a, Path b) {
    try {
      return Files.exists(b) && Files.isSameFile(a, b);
    } catch (IOException e) {
      return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }
  }

  public ModelProto proto() {
    return proto;
  }

  /** Where the model came from (a path or a name given in code), for messages. */
  public String source() {
    return source;
  }

  /** The file it (or the model it was derived from) was loaded from, if any. */
  public Optional<Path> path() {
    return Optional.ofNullable(path);
  }

  /** Nodes in file order. */
  public List<OnnxNode> nodes() {
    return nodes;
  }

  /**
   * The node named {@code name}.
   *
   * @throws ModelException naming the closest node names when there is none
   */
  public OnnxNode node(String name) {
    OnnxNode n = nodesByName.get(name);
    if (n == null) {
      throw new ModelException(
          source
              + ": no node named '"
              + name
              + "'; closest: "
              + Names.closest(name, nodesByName.keySet(), 5));
    }
    return n;
  }

  public Optional<OnnxNode> findNode(String name) {
    return Optional.ofNullable(nodesByName.get(name));
  }

  /** Initializers by name, in file order. */
  public Map<String, TensorProto> initializers() {
    return initializers;
  }

  /** Graph inputs the caller feeds (initializers listed as inputs by old exporters excluded). */
  public List<ValueInfo> inputs() {
    return inputs;
  }

  public List<ValueInfo> outputs() {
    return outputs;
  }

  /** The opset version imported for {@code domain} ("" = default ONNX domain), or 0 if none. */
  public int opset(String domain) {
    for (OperatorSetIdProto o : proto.getOpsetImportList()) {
      String d = o.getDomain().equals("ai.onnx") ? "" : o.getDomain();
      if (d.equals(domain)) {
        return (int) o.getVersion();
      }
    }
    return 0;
  }

  /** The default-domain opset version. */
  public int opset() {
    int v = opset("");
    return v == 0 ? 1 : v;
  }

  static ValueInfo valueInfo(ValueInfoProto v) {
    TypeProto t = v.getType();
    if (!t.hasTensorType()) {
      return new ValueInfo(v.getName(), ElemType.UNDEFINED, null, List.of());
    }
    TypeProto.Tensor tt = t.getTensorType();
    ElemType type = ElemType.of(tt.getElemType());
    if (!tt.hasShape()) {
      return new ValueInfo(v.getName(), type, null, List.of());
    }
    TensorShapeProto s = tt.getShape();
    long[] dims = new long[s.getDimCount()];
    List<String> names = new ArrayList<>();
    for (int i = 0; i < dims.length; i++) {
      TensorShapeProto.Dimension d = s.getDim(i);
      dims[i] = d.hasDimValue() ? d.getDimValue() : -1;
      names.add(d.hasDimParam() ? d.getDimParam() : "");
    }
    return new ValueInfo(v.getName(), type, dims, List.copyOf(names));
  }

  // ---- external data ----

  private static ModelProto inlineExternalData(ModelProto proto, Path dir, String source) {
    GraphProto g = proto.getGraph();
    boolean any =
        g.getInitializerList().stream().anyMatch(OnnxModel::isExternal)
            || g.getNodeList().stream()
                .flatMap(n -> n.getAttributeList().stream())
                .anyMatch(a -> a.hasT() && isExternal(a.getT()));
    if (!any) {
      return proto;
    }
    GraphProto.Builder gb = g.toBuilder();
    for (int i = 0; i < gb.getInitializerCount(); i++) {
      TensorProto t = gb.getInitializer(i);
      if (isExternal(t)) {
        gb.setInitializer(i, readExternal(t, dir, source));
      }
    }
    for (int i = 0; i < gb.getNodeCount(); i++) {
      NodeProto n = gb.getNode(i);
      for (int k = 0; k < n.getAttributeCount(); k++) {
        AttributeProto a = n.getAttribute(k);
        if (a.hasT() && isExternal(a.getT())) {
          gb.getNodeBuilder(i)
              .setAttribute(k, a.toBuilder().setT(readExternal(a.getT(), dir, source)));
        }
      }
    }
    return proto.toBuilder().setGraph(gb).build();
  }

  private static boolean isExternal(TensorProto t) {
    return t.getDataLocation() == TensorProto.DataLocation.EXTERNAL;
  }

  private static TensorProto readExternal(TensorProto t, Path dir, String source) {
    String location = null;
    long offset = 0;
    long length = -1;
    String what = source + ": tensor '" + t.getName() + "'";
    for (StringStringEntryProto e : t.getExternalDataList()) {
      switch (e.getKey()) {
        case "location" -> location = e.getValue();
        case "offset" -> offset = number(e.getValue(), "offset", what);
        case "length" -> length = number(e.getValue(), "length", what);
        default -> {}
      }
    }
    if (location == null || location.isEmpty()) {
      throw new ModelException(what + ": external data without a location");
    }
    if (location.indexOf('\0') >= 0) {
      throw new ModelException(
          what + ": external data location '" + location.replace('\0', '?')
              + "' holds a NUL character");
    }
    Path file = confined(dir, location, what);
    if (Files.isDirectory(file)) {
      throw new ModelException(what + ": external data location '" + location + "' is a folder");
    }
    if (Files.exists(file) && !Files.isRegularFile(file)) {
      throw new ModelException(
          what + ": external data location '" + location + "' is not a regular file");
    }
    dev.qdebug.Inputs.add(file, "external data of the model");
    try (SeekableByteChannel ch = Files.newByteChannel(file)) {
      long size = ch.size();
      long n = length >= 0 ? length : size - offset;
      if (offset > size || n < 0 || n > size - offset || n > Integer.MAX_VALUE - 8) {
        throw new ModelException(
            what
                + ": external data range [offset "
                + offset
                + ", length "
                + n
                + "] lies outside "
                + location
                + " ("
                + size
                + " bytes)");
      }
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) n);
      ch.position(offset);
      while (buf.hasRemaining() && ch.read(buf) >= 0) {}
      buf.flip();
      return t.toBuilder()
          .clearExternalData()
          .setDataLocation(TensorProto.DataLocation.DEFAULT)
          .setRawData(ByteString.copyFrom(buf))
          .build();
    } catch (NoSuchFileException e) {
      throw new ModelException(what + ": external data file '" + location + "' not found");
    } catch (IOException e) {
      throw new ModelException(
          what + ": cannot read external data '" + location + "': " + dev.qdebug.data.Npy.ioReason(e),
          e);
    }
  }

  /** A non-negative decimal number of an external-data entry. */
  private static long number(String value, String key, String what) {
    long v;
    try {
      v = Long.parseLong(value.strip());
    } catch (NumberFormatException e) {
      throw new ModelException(what + ": external data " + key + " '" + value + "' is not a number");
    }
    if (v < 0) {
      throw new ModelException(what + ": external data " + key + " " + v + " is negative");
    }
    return v;
  }

  /** Resolves {@code location} inside {@code dir}, refusing anything that leads out of it. */
  static Path confined(Path dir, String location, String what) {
    Path rel;
    try {
      rel = Path.of(location);
    } catch (java.nio.file.InvalidPathException e) {
      throw new ModelException(what + ": external data location '" + location + "' is not a path");
    }
    if (rel.isAbsolute()) {
      throw new ModelException(
          what + ": external data location '" + location + "' is absolute; it must be relative to "
              + "the model's folder");
    }
    Path resolved = dir.resolve(rel).normalize();
    try {
      Path realDir = dir.toRealPath();
      Path real = Files.exists(resolved) ? resolved.toRealPath() : resolved;
      if (!resolved.startsWith(dir.normalize()) || !real.startsWith(realDir)) {
        throw new ModelException(
            what + ": external data location '" + location + "' leads outside the model's folder");
      }
    } catch (IOException e) {
      throw new ModelException(
          what + ": cannot resolve external data '" + location + "': "
              + dev.qdebug.data.Npy.ioReason(e), e);
    }
    return resolved;
  }

  @Override
  public String toString() {
    return "OnnxModel[" + source + ", " + nodes.size() + " nodes, opset " + opset() + "]";
  }
}
