"""greeter.speak against the real engine (espeak-ng on Linux): no mocks.

The Speaker tests that need sentences to reach the engine use ``record_to``,
which makes the worker write each sentence to a WAV file: it works on
machines without sound, and the files prove what the engine said. A hung
engine is made real by stopping the worker process with SIGSTOP.
"""

from __future__ import annotations

import ctypes.util
import multiprocessing
import os
import signal
import sys
import time
import wave

import numpy as np
import pytest

from greeter.speak import SpeechError, Speaker, list_voices, render_speech_to_file

ON_LINUX = sys.platform.startswith("linux")
needs_engine = pytest.mark.skipif(
    ON_LINUX and ctypes.util.find_library("espeak-ng") is None,
    reason="espeak-ng is not installed (sudo apt-get install espeak-ng)")
needs_posix = pytest.mark.skipif(os.name != "posix", reason="needs SIGSTOP/SIGKILL")

SAY_LIMIT_S = 0.05    # say() must not hold up a video frame
CLOSE_LIMIT_S = 1.5   # the program must exit within 2 s of Ctrl+C


def measure_wav(path: str) -> tuple[float, float, float]:
    """Return (duration s, RMS, peak) of a 16-bit mono WAV, amplitudes in [0, 1]."""
    with wave.open(path, "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        duration = wav.getnframes() / wav.getframerate()
    scaled = samples.astype(np.float64) / 32768.0
    return duration, float(np.sqrt(np.mean(scaled ** 2))), float(np.abs(scaled).max())


def wait_for(condition, timeout: float = 10.0) -> bool:
    """Return True as soon as ``condition()`` holds, False after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def timed(action) -> float:
    """Return how many seconds ``action()`` took."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def assert_no_worker_left(speaker: Speaker) -> None:
    assert multiprocessing.active_children() == []
    with pytest.raises(ProcessLookupError):
        os.kill(speaker.pid, 0)


@pytest.fixture
def warnings() -> list[str]:
    return []


@needs_engine
def test_render_greeting_is_audible_speech_of_plausible_length(tmp_path):
    path = str(tmp_path / "greeting.wav")
    render_speech_to_file("Welcome Alice, have a nice day!", path)
    duration, rms, peak = measure_wav(path)
    # espeak-ng 1.51 here: 1.71 s, RMS 0.090, peak 0.76.
    assert 1.0 < duration < 5.0
    assert rms > 0.02
    assert peak > 0.2


@needs_engine
def test_render_with_a_driver_that_cannot_load_raises_speech_error(tmp_path):
    with pytest.raises(SpeechError, match="nonexistent"):
        render_speech_to_file("Hello", str(tmp_path / "x.wav"), driver_name="nonexistent")
    assert not (tmp_path / "x.wav").exists()


@needs_engine
def test_speaker_speaks_without_holding_up_the_caller(tmp_path, warnings):
    speaker = Speaker(record_to=str(tmp_path), on_warning=warnings.append)
    try:
        assert speaker.wait_ready(10), warnings
        names = ["Alice", "Bob", "Carol", "Dave", "Eve"]
        latencies = []
        for name in names:
            latencies.append(timed(lambda: speaker.say(f"Welcome {name}, have a nice day!")))
            # Wait for each, so that none is dropped for queueing behind others.
            assert wait_for(lambda: speaker.spoken == len(latencies))
        assert max(latencies) < SAY_LIMIT_S
        files = sorted(tmp_path.glob("*.wav"))
        assert [f.name for f in files] == [f"{i:04d}.wav" for i in range(1, 6)]
        assert (tmp_path / "0002.txt").read_text().startswith("Welcome Bob, have a nice day!\n")
        for file in files:
            duration, rms, _ = measure_wav(str(file))
            assert 1.0 < duration < 5.0 and rms > 0.02
    finally:
        close_time = timed(speaker.close)
    assert close_time < CLOSE_LIMIT_S
    assert warnings == []
    assert_no_worker_left(speaker)


@needs_engine
@needs_posix
def test_hung_engine_neither_blocks_say_nor_close(tmp_path, warnings):
    speaker = Speaker(record_to=str(tmp_path), on_warning=warnings.append)
    try:
        assert speaker.wait_ready(10), warnings
        os.kill(speaker.pid, signal.SIGSTOP)  # frozen as a hung engine would be
        # Far more sentences than the queue holds: the surplus is dropped.
        latencies = [timed(lambda: speaker.say("Welcome Alice, have a nice day!"))
                     for _ in range(100)]
        assert max(latencies) < SAY_LIMIT_S
    finally:
        close_time = timed(speaker.close)
    assert close_time < CLOSE_LIMIT_S
    assert_no_worker_left(speaker)
    assert not speaker.available


@needs_engine
@needs_posix
def test_sentences_that_waited_too_long_are_dropped(tmp_path, warnings):
    with Speaker(record_to=str(tmp_path), max_delay=0.2,
                 on_warning=warnings.append) as speaker:
        assert speaker.wait_ready(10), warnings
        os.kill(speaker.pid, signal.SIGSTOP)
        speaker.say("Welcome Alice, have a nice day!")
        time.sleep(0.5)  # Alice waits longer than max_delay
        os.kill(speaker.pid, signal.SIGCONT)
        speaker.say("Welcome Bob, have a nice day!")
        assert wait_for(lambda: speaker.spoken == 1)
        time.sleep(0.3)
        assert speaker.spoken == 1
        assert [f.name for f in tmp_path.glob("*.wav")] == ["0001.wav"]
    assert warnings == []
    assert_no_worker_left(speaker)


@needs_engine
def test_close_is_idempotent_and_say_after_close_is_ignored(tmp_path, warnings):
    speaker = Speaker(record_to=str(tmp_path), on_warning=warnings.append)
    speaker.close()
    speaker.close()
    speaker.say("Welcome Alice, have a nice day!")
    assert not speaker.available
    assert warnings == []
    assert_no_worker_left(speaker)


@needs_engine
def test_speaker_without_sound_output_warns_once_and_stays_quiet(warnings):
    """What this headless machine does: pyttsx3 would play through aplay and
    ignore its failure; the Speaker notices at start and turns speech off."""
    speaker = Speaker(on_warning=warnings.append)
    try:
        if speaker.wait_ready(10):
            pytest.skip("this machine has working sound output")
        for _ in range(5):
            assert timed(lambda: speaker.say("Welcome Alice, have a nice day!")) < SAY_LIMIT_S
        assert not speaker.available
    finally:
        speaker.close()
    assert len(warnings) == 1
    assert "speech is off" in warnings[0]
    if ON_LINUX:
        assert "aplay" in warnings[0]  # what is missing or failing, and the fix
    assert_no_worker_left(speaker)


@needs_engine
def test_close_mid_sentence_stops_the_sound_promptly(warnings):
    speaker = Speaker(on_warning=warnings.append)
    try:
        if not speaker.wait_ready(10):
            pytest.skip(f"no sound output on this machine: {warnings}")
        speaker.say("Welcome Alice, Bob, Carol and Dave, have a nice day!")
        time.sleep(0.5)  # it is speaking now
        assert speaker.spoken == 0
    finally:
        close_time = timed(speaker.close)
    assert close_time < CLOSE_LIMIT_S
    assert_no_worker_left(speaker)


@needs_engine
@pytest.mark.skipif(not ON_LINUX, reason="ESPEAK_DATA_PATH concerns espeak-ng on Linux")
def test_engine_without_its_data_warns_once(tmp_path, monkeypatch, warnings):
    # espeak-ng's library calls exit(1) when it finds no data files: the
    # worker process dies while starting, and only it.
    monkeypatch.setenv("ESPEAK_DATA_PATH", str(tmp_path))
    speaker = Speaker(record_to=str(tmp_path), on_warning=warnings.append)
    try:
        assert not speaker.wait_ready(10)
        for _ in range(5):
            speaker.say("Welcome Alice, have a nice day!")
        assert not speaker.available
    finally:
        speaker.close()
    assert len(warnings) == 1
    assert "exited with code 1 while starting" in warnings[0]
    assert "apt-get install espeak-ng" in warnings[0]
    assert_no_worker_left(speaker)


@needs_engine
def test_driver_that_cannot_load_warns_once(tmp_path, warnings):
    speaker = Speaker(driver_name="nonexistent", record_to=str(tmp_path),
                      on_warning=warnings.append)
    try:
        assert not speaker.wait_ready(10)
        speaker.say("Welcome Alice, have a nice day!")
        speaker.say("Welcome Bob, have a nice day!")
        assert not speaker.available
    finally:
        speaker.close()
    assert len(warnings) == 1
    assert "failed to start" in warnings[0] and "nonexistent" in warnings[0]
    assert_no_worker_left(speaker)


@needs_engine
@needs_posix
def test_worker_killed_mid_run_warns_once(tmp_path, warnings):
    speaker = Speaker(record_to=str(tmp_path), on_warning=warnings.append)
    try:
        assert speaker.wait_ready(10), warnings
        speaker.say("Welcome Alice, have a nice day!")
        assert wait_for(lambda: speaker.spoken == 1)
        os.kill(speaker.pid, signal.SIGKILL)
        assert wait_for(lambda: not speaker.available)
        for _ in range(5):
            assert timed(lambda: speaker.say("Welcome Bob, have a nice day!")) < SAY_LIMIT_S
    finally:
        speaker.close()
    assert len(warnings) == 1
    assert "exited unexpectedly" in warnings[0]
    assert_no_worker_left(speaker)


@needs_engine
def test_voices_are_listed_with_their_languages():
    voices = {voice.id: voice for voice in list_voices()}
    assert voices["roa/fr"].languages == ("fr-fr",) and voices["roa/fr"].name == "French (France)"
    assert "cmn" in voices["sit/cmn"].languages


@needs_engine
def test_each_sentence_is_spoken_in_its_own_voice_and_a_missing_one_named_once(
        tmp_path, warnings):
    speaker = Speaker(record_to=str(tmp_path), voice="de", rate=150,
                      on_warning=warnings.append)
    try:
        assert speaker.wait_ready(10), warnings
        speaker.say("Guten Morgen, Anna!")
        speaker.say("Bonjour Mary Jane !", voice="fr", rate=120)
        assert speaker.wait_spoken(20)
        speaker.say("Hello Zed!", voice="xx-nowhere")
        speaker.say("Hello again, Zed!", voice="xx-nowhere")
        assert speaker.wait_spoken(20)
        assert speaker.available
    finally:
        speaker.close()
    voices = [(tmp_path / f"{n:04d}.txt").read_text().splitlines()[1] for n in range(1, 5)]
    assert voices == ["voice: gmw/de", "voice: roa/fr", "voice: gmw/de", "voice: gmw/de"]
    assert len(warnings) == 1 and "no voice for 'xx-nowhere'" in warnings[0] \
        and "espeak-ng" in warnings[0]


@needs_engine
def test_the_speaker_s_rate_slows_the_speech(tmp_path, warnings):
    for rate in (90, 270):
        os.mkdir(tmp_path / str(rate))
        with Speaker(record_to=str(tmp_path / str(rate)), rate=rate,
                     on_warning=warnings.append) as speaker:
            assert speaker.wait_ready(10), warnings
            speaker.say("Welcome Alice, have a nice day!")
            assert speaker.wait_spoken(20) and speaker.spoken == 1, warnings
    slow, fast = (measure_wav(str(tmp_path / str(rate) / "0001.wav"))[0] for rate in (90, 270))
    assert slow > 2 * fast


@needs_engine
def test_sentences_said_in_a_row_are_each_spoken_at_their_own_rate(tmp_path, warnings):
    # pyttsx3's espeak driver cancels espeak-ng's unfinished work at the end of
    # each runAndWait(): a sentence said while the one before was still being
    # finished came out at the wrong rate (seen one burst in five).
    rates = [90, 270, 90] * 4
    with Speaker(record_to=str(tmp_path), on_warning=warnings.append) as speaker:
        assert speaker.wait_ready(10), warnings
        for burst in range(0, len(rates), 3):
            for rate in rates[burst:burst + 3]:
                speaker.say("Welcome Alice, have a nice day!", rate=rate)
            assert speaker.wait_spoken(30), warnings
    assert speaker.spoken == len(rates), warnings
    durations = [measure_wav(str(tmp_path / f"{n:04d}.wav"))[0]
                 for n in range(1, len(rates) + 1)]
    slow = [d for d, rate in zip(durations, rates) if rate == 90]
    fast = [d for d, rate in zip(durations, rates) if rate == 270]
    assert min(slow) > 2 * max(fast), durations


@needs_engine
def test_a_person_s_sound_comes_with_the_sentence_or_alone(tmp_path, warnings):
    chime = tmp_path / "chime.wav"
    with wave.open(str(chime), "wb") as out:  # 0.3 s of a 440 Hz tone
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(22050)
        tone = (np.sin(np.arange(6615) * 2 * np.pi * 440 / 22050) * 8000).astype("<i2")
        out.writeframes(tone.tobytes())
    folder = tmp_path / "speech"
    folder.mkdir()
    with Speaker(record_to=str(folder), on_warning=warnings.append) as speaker:
        assert speaker.wait_ready(10), warnings
        speaker.say("Hello Mary!", sound=str(chime))
        speaker.say("", sound=str(chime))
        speaker.say("   ")  # neither sentence nor sound: nothing
        assert speaker.wait_spoken(20) and speaker.spoken == 2, warnings
    assert sorted(path.name for path in folder.iterdir()) == \
        ["0001-sound.wav", "0001.txt", "0001.wav", "0002-sound.wav", "0002.txt"]
    assert (folder / "0002-sound.wav").read_bytes() == chime.read_bytes()


@needs_engine
def test_without_sound_the_greetings_asked_for_as_files_are_still_written(tmp_path, warnings):
    with Speaker(record_to=str(tmp_path), play=True, on_warning=warnings.append) as speaker:
        assert speaker.wait_ready(10), warnings
        speaker.say("Welcome Alice, have a nice day!")
        assert speaker.wait_spoken(20), warnings
        played = not warnings
    assert (tmp_path / "0001.wav").is_file()
    if not played:  # this machine has no sound: said once, files kept
        assert len(warnings) == 1 and "still written to" in warnings[0], warnings
