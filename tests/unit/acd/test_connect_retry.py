"""The waits between connect attempts: 1 s, 2 s, 4 s..., capped, jitter only shortening them."""
import pytest

from gateway.acd.retry import ConnectRetry


def test_each_failure_doubles_the_wait_up_to_the_cap():
    retry = ConnectRetry(initial=1.0, maximum=5.0, jitter=0.0)
    assert [retry.delay(n) for n in (1, 2, 3, 4, 10)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_shortens_a_wait_by_at_most_its_fraction():
    retry = ConnectRetry(initial=2.0, maximum=8.0, jitter=0.25)
    assert retry.delay(2, random=lambda: 0.0) == 4.0
    assert retry.delay(2, random=lambda: 0.999999) == pytest.approx(3.0, abs=1e-5)


@pytest.mark.parametrize("bad, word", [(dict(attempts=0), "attempts"), (dict(initial=0), "initial"),
                                       (dict(initial=9, maximum=8), "maximum"), (dict(factor=0.5), "factor"),
                                       (dict(jitter=1.0), "jitter")])
def test_a_policy_that_cannot_work_is_refused_with_its_reason(bad, word):
    with pytest.raises(ValueError, match=word):
        ConnectRetry(**bad)
