package io.mvm.model;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BoundedTextTest {
    @Test
    void shortTextIsKeptAsItIs() {
        assertThat(BoundedText.message("booted")).isEqualTo("booted");
        assertThat(BoundedText.message("x".repeat(1000))).hasSize(1000);
    }

    @Test
    void longTextIsCutToTheLimitAndSaysSo() {
        var cut = BoundedText.message("y".repeat(5_000_000));
        assertThat(cut).hasSize(BoundedText.MESSAGE_LIMIT).startsWith("yyyy").endsWith("(5000000 chars, cut)");
    }

    @Test
    void aSurrogatePairIsNeverSplit() {
        var cut = BoundedText.cap("😀".repeat(100), 41);
        assertThat(cut.codePoints().allMatch(c -> c == 0x1F600 || c < 0x10000)).isTrue();
        assertThat(Character.isHighSurrogate(cut.charAt(cut.indexOf('…') - 1))).isFalse();
        assertThat(cut.length()).isLessThanOrEqualTo(41);
    }
}
