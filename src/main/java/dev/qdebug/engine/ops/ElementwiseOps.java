package dev.qdebug.engine.ops;

import dev.qdebug.engine.OpRegistry;

/** Unary and binary elementwise math, activations, comparisons, reductions, casts and quantization. */
final class ElementwiseOps {
  private ElementwiseOps() {}

  static void register(OpRegistry r) {
    // one input
    r.put("Relu", Unary::relu);
    r.put("LeakyRelu", Unary::leakyRelu);
    r.put("Sigmoid", Unary::sigmoid);
    r.put("HardSigmoid", Unary::hardSigmoid);
    r.put("HardSwish", Unary::hardSwish);
    r.put("Tanh", Unary::tanh);
    r.put("Erf", Unary::erf);
    r.put("Gelu", Unary::gelu);
    r.put("Neg", Unary::neg);
    r.put("Abs", Unary::abs);
    r.put("Exp", Unary::exp);
    r.put("Log", Unary::log);
    r.put("Sqrt", Unary::sqrt);
    r.put("Reciprocal", Unary::reciprocal);
    r.put("Round", Unary::round);
    r.put("Floor", Unary::floor);
    r.put("Ceil", Unary::ceil);
    r.put("Softplus", Unary::softplus);
    r.put("Elu", Unary::elu);
    r.put("Selu", Unary::selu);
    r.put("Mish", Unary::mish);
    r.put("Not", Unary::not);
    r.put("Clip", Clip::new);
    r.put("PRelu", PRelu::new);

    // two inputs, broadcasting
    r.put("Add", Binary::add);
    r.put("Sub", Binary::sub);
    r.put("Mul", Binary::mul);
    r.put("Div", Binary::div);
    r.put("Pow", Pow::new);
    r.put("Equal", Binary::equal);
    r.put("Less", Binary::less);
    r.put("LessOrEqual", Binary::lessOrEqual);
    r.put("Greater", Binary::greater);
    r.put("GreaterOrEqual", Binary::greaterOrEqual);
    r.put("And", Binary::and);
    r.put("Or", Binary::or);
    r.put("Xor", Binary::xor);
    r.put("Where", Where::new);

    // any number of inputs, broadcasting
    r.put("Max", Variadic::max);
    r.put("Min", Variadic::min);
    r.put("Sum", Variadic::sum);
    r.put("Mean", Variadic::mean);

    // reductions
    r.put("ReduceMean", Reduce::mean);
    r.put("ReduceSum", Reduce::sum);
    r.put("ReduceMax", Reduce::max);
    r.put("ReduceMin", Reduce::min);
    r.put("ReduceProd", Reduce::prod);
    r.put("ReduceL2", Reduce::l2);

    // types, inference-time no-ops, sizes
    r.put("Cast", Cast::cast);
    r.put("CastLike", Cast::castLike);
    r.put("Dropout", Dropout::new);
    r.put("Size", Size::new);

    // quantization
    r.put("QuantizeLinear", QuantizeLinear::new);
    r.put("DequantizeLinear", DequantizeLinear::new);
  }
}
