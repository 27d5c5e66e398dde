#!/bin/sh
# The scale benchmark (issue 10) from the test class path, where ONNX Runtime is:
#   scripts/bench.sh --quick                      case studies, 8 samples
#   scripts/bench.sh --models mnasnet,mobilevit-s --samples 8 --steps float,fake-quant
#   scripts/bench.sh --quick --steps diagnose     diagnose on each case study's harder setting
# Arguments are ScaleBenchmark's (see its Javadoc). MAVEN_OPTS may be overridden.
set -e
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
# no JavaCPP limit, as the command line and the kernel run without --max-memory (a limit costs a
# read of the resident size at every native allocation, and would also set the batch budget)
export MAVEN_OPTS="${MAVEN_OPTS:--Xmx4g -Dorg.bytedeco.javacpp.maxphysicalbytes=0}"
mvn -q -B test-compile exec:java -Dexec.classpathScope=test \
    -Dexec.mainClass=dev.qdebug.bench.ScaleBenchmark -Dexec.args="$*"
