package dev.qdebug.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qdebug.UsageException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The tensor budget of a batch without a ceiling: the default, or the one a property gives. */
class MemoryBudgetTest {
  @BeforeEach
  @AfterEach
  void clear() {
    System.clearProperty(MemoryBudget.TENSOR_BYTES_PROPERTY);
    MemoryBudget.setCeiling(-1, null);
    MemoryBudget.setMaxBatch(MemoryBudget.MAX_BATCH);
  }

  @Test
  void withoutCeilingOrPropertyBatchesGetTheDefault() {
    assertEquals(-1, MemoryBudget.ceiling());
    assertEquals(MemoryBudget.DEFAULT_TENSOR_BYTES, MemoryBudget.tensorBytes(123));
    // 1.5 GiB over 3 copies of 40 MiB: 12 samples
    assertEquals(12, MemoryBudget.batchSize(40L << 20, 3, 0, 16, "test"));
  }

  @Test
  void thePropertySizesBatches() {
    System.setProperty(MemoryBudget.TENSOR_BYTES_PROPERTY, "256m");
    assertEquals(256L << 20, MemoryBudget.tensorBytes(123));
    assertEquals(2, MemoryBudget.batchSize(40L << 20, 3, 0, 16, "test"));
    assertEquals(1, MemoryBudget.batchSize(200L << 20, 3, 0, 16, "test"), "never below one sample");
    System.setProperty(MemoryBudget.TENSOR_BYTES_PROPERTY, "4g");
    assertEquals(16, MemoryBudget.batchSize(1L << 20, 3, 0, 16, "test"), "at most the most per batch");
  }

  @Test
  void smallSamplesStackUpToTheBatchBytes() {
    int max = MemoryBudget.MAX_BATCH;
    // 148 KiB per sample (the RepVGG case study): 64 MiB hold 442, the most per pass is 256
    assertEquals(256, MemoryBudget.batchSize(148L << 10, 2, 0, max, "test"));
    // 1 MiB: 64 samples; 6 MiB (MobileViT case study): 10 by the bytes, but 16 always may
    assertEquals(64, MemoryBudget.batchSize(1L << 20, 2, 0, max, "test"));
    assertEquals(16, MemoryBudget.batchSize(6L << 20, 2, 0, max, "test"));
    // the budget still rules: 192 MiB over 2 copies of 512 KiB is 192 (128 by the bytes), of
    // 8 MiB 12
    System.setProperty(MemoryBudget.TENSOR_BYTES_PROPERTY, "192m");
    assertEquals(128, MemoryBudget.batchSize(512L << 10, 2, 0, max, "test"));
    assertEquals(12, MemoryBudget.batchSize(8L << 20, 2, 0, max, "test"));
    System.setProperty(MemoryBudget.TENSOR_BYTES_PROPERTY, "32m");
    assertEquals(16, MemoryBudget.batchSize(1L << 20, 2, 0, max, "test"));
    // and a caller's or the user's limit
    System.clearProperty(MemoryBudget.TENSOR_BYTES_PROPERTY);
    assertEquals(8, MemoryBudget.batchSize(148L << 10, 2, 0, 8, "test"));
    MemoryBudget.setMaxBatch(1);
    assertEquals(1, MemoryBudget.batchSize(148L << 10, 2, 0, max, "test"));
  }

  @Test
  void aBadPropertyIsNamed() {
    System.setProperty(MemoryBudget.TENSOR_BYTES_PROPERTY, "lots");
    UsageException e =
        assertThrows(UsageException.class, () -> MemoryBudget.batchSize(1 << 20, 3, 0, 16, "test"));
    assertTrue(e.getMessage().contains("-D" + MemoryBudget.TENSOR_BYTES_PROPERTY), e.getMessage());
    assertTrue(e.getMessage().contains("'lots'"), e.getMessage());
  }
}
