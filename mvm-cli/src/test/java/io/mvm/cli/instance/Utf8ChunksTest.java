package io.mvm.cli.instance;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class Utf8ChunksTest {

    @Test
    void aSequenceSplitAcrossChunksIsPrintedWholeOnceComplete() {
        byte[] text = "aé€😀z".getBytes(StandardCharsets.UTF_8);
        for (int cut = 0; cut <= text.length; cut++) {
            for (int cut2 = cut; cut2 <= text.length; cut2++) {
                Utf8Chunks chunks = new Utf8Chunks();
                String printed = chunks.append(Arrays.copyOfRange(text, 0, cut))
                        + chunks.append(Arrays.copyOfRange(text, cut, cut2))
                        + chunks.append(Arrays.copyOfRange(text, cut2, text.length))
                        + chunks.flush();
                assertThat(printed).as("cut at %d and %d", cut, cut2).isEqualTo("aé€😀z");
            }
        }
    }

    @Test
    void anIncompleteTailWaitsAndInvalidBytesAtTheEndStillShow() {
        Utf8Chunks chunks = new Utf8Chunks();
        byte[] euro = "€".getBytes(StandardCharsets.UTF_8);
        assertThat(chunks.append(Arrays.copyOf(euro, 2))).isEmpty();
        assertThat(chunks.flush()).isEqualTo("\uFFFD");
        assertThat(chunks.append(new byte[] {'o', 'k'})).isEqualTo("ok");
    }
}
