package dev.qdebug.debug;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.quant.CalibrationNode;
import dev.qdebug.quant.QParams;
import dev.qdebug.quant.QType;
import dev.qdebug.quant.TensorKind;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The combination's bookkeeping: undoing one node's fallback leaves every other change as it is. */
class FixTrialsVariantTest {
  private static CalibrationNode cal(String tensor, QType type) {
    return new CalibrationNode(
        tensor + CalibrationNode.SUFFIX,
        tensor,
        TensorKind.ACTIVATION,
        new QParams(new float[] {0.5f}, new long[] {0}, -1, type),
        true,
        "max");
  }

  @Test
  void restoreUndoesOneNodesLaterChangesOnly() {
    FixTrials.Variant before = new FixTrials.Variant();
    before.replace.put("a" + CalibrationNode.SUFFIX, cal("a", QType.INT8));
    before.shifts.put("y", new FixTrials.Variant.Shift("conv", 1, new float[] {0.25f}));

    FixTrials.Variant after = before.withoutShift("y");
    after.replace.put("a" + CalibrationNode.SUFFIX, cal("a", QType.INT16)); // the node's int16 fallback
    after.replace.put("b" + CalibrationNode.SUFFIX, cal("b", QType.INT16)); // another node's
    after.disable.add("c" + CalibrationNode.SUFFIX); // another node in float
    after.disable.add("w" + CalibrationNode.SUFFIX); // this node in float

    FixTrials.Variant back =
        after.restore(before, List.of("a" + CalibrationNode.SUFFIX, "w" + CalibrationNode.SUFFIX), "y");
    assertEquals(QType.INT8, back.replace.get("a" + CalibrationNode.SUFFIX).params().type());
    assertFalse(back.disable.contains("w" + CalibrationNode.SUFFIX));
    assertArrayEquals(new float[] {0.25f}, back.shifts.get("y").delta());
    assertEquals(QType.INT16, back.replace.get("b" + CalibrationNode.SUFFIX).params().type());
    assertTrue(back.disable.contains("c" + CalibrationNode.SUFFIX));
    // the variant undone from is unchanged
    assertEquals(QType.INT16, after.replace.get("a" + CalibrationNode.SUFFIX).params().type());
    assertFalse(after.shifts.containsKey("y"));

    FixTrials.Variant none = new FixTrials.Variant();
    FixTrials.Variant cleared = after.restore(none, List.of("a" + CalibrationNode.SUFFIX), "y");
    assertFalse(cleared.replace.containsKey("a" + CalibrationNode.SUFFIX), "absent before, absent after");
  }
}
