package io.mvm.agent.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class ExponentialBackoffTest {
    @Test
    void doublesUpToTheCap() {
        var b = new ExponentialBackoff(Duration.ofSeconds(2), Duration.ofSeconds(30));
        assertThat(b.delay(1)).isEqualTo(Duration.ofSeconds(2));
        assertThat(b.delay(2)).isEqualTo(Duration.ofSeconds(4));
        assertThat(b.delay(4)).isEqualTo(Duration.ofSeconds(16));
        assertThat(b.delay(5)).isEqualTo(Duration.ofSeconds(30));
        assertThat(b.delay(500)).isEqualTo(Duration.ofSeconds(30));
    }

    @Test
    void rejectsNonsense() {
        assertThatThrownBy(() -> new ExponentialBackoff(Duration.ZERO, Duration.ofSeconds(1)))
                .hasMessageContaining("0 < base <= max");
        assertThatThrownBy(() -> new ExponentialBackoff(Duration.ofSeconds(2), Duration.ofSeconds(1)))
                .hasMessageContaining("0 < base <= max");
    }
}
