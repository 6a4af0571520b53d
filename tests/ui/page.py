"""A thin driver over the gradio page: tabs, fields by elem_id, waits, screenshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 180  # seconds: a model loads, an embedder loads, a training run starts on 2 cores


class Page:
    def __init__(self, driver, url: str, artifacts: Path) -> None:
        self.driver = driver
        self.url = url
        self.artifacts = artifacts

    def open(self, tries: int = 3) -> None:
        for attempt in range(tries):
            try:
                self.driver.get(self.url + "/")
                break
            except WebDriverException:  # chromedriver's "timed out receiving message from
                if attempt == tries - 1:  # renderer" while 2 busy cores load the page
                    raise
        self.wait(lambda: self.driver.find_elements(By.CSS_SELECTOR, "#chat-input textarea"))

    def wait(self, condition: Callable[[], object], timeout: float = WAIT) -> object:
        def check(_driver) -> object:
            try:
                return condition()
            except (StaleElementReferenceException, WebDriverException):
                return False

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.3).until(check)
        except TimeoutException:
            self.shot("timed-out")  # what the page showed, for the report
            raise

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def tab(self, label: str) -> None:
        for button in self.driver.find_elements(By.CSS_SELECTOR, "button[role='tab']"):
            if button.text.strip() == label:
                button.click()
                return
        raise AssertionError(f"no tab {label}")

    def type(self, elem_id: str, text: str, enter: bool = False) -> None:
        box = self.find(f"#{elem_id} textarea, #{elem_id} input")
        box.clear()
        box.send_keys(text)
        if enter:
            box.send_keys(Keys.ENTER)

    def click(self, elem_id: str) -> None:
        self.find(f"#{elem_id}").click()

    def choose(self, elem_id: str, value: str) -> None:
        """Pick `value` in a gradio dropdown."""
        box = self.find(f"#{elem_id} input")
        self.wait(lambda: box.click() or True)  # a tab just shown may still cover it a moment
        self.wait(lambda: self._option(value))
        self._option(value).click()

    def open_accordion(self, elem_id: str, inside: str) -> None:
        """Open the accordion `elem_id` unless it is open already (a closed one renders
        nothing inside; its button toggles it), and wait until `inside` (CSS) shows."""
        shown = self.driver.find_elements(By.CSS_SELECTOR, inside)
        if not any(e.is_displayed() for e in shown):
            self.find(f"#{elem_id} button").click()
        self.wait(lambda: self.find(inside).is_displayed())

    def pick_radio(self, elem_id: str, value: str) -> None:
        """Pick `value` among a gradio radio's choices."""
        for label in self.driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} label"):
            if label.text.strip() == value:
                label.click()
                self.wait(lambda: self.find(f"#{elem_id} input[value='{value}']").is_selected())
                return
        raise AssertionError(f"no choice {value} in {elem_id}")

    def _option(self, value: str):
        for option in self.driver.find_elements(By.CSS_SELECTOR, "[data-testid='dropdown-option']"):
            if option.text.strip().splitlines()[-1:] == [value]:  # after a "✓" when picked
                return option
        return None

    def text(self, elem_id: str) -> str:
        return self.find(f"#{elem_id}").text

    def upload(self, elem_id: str, path: Path) -> None:
        """Upload a file (in place of one shown already) and wait until the page lists it.

        Clearing re-renders the drop area, so the file input found a moment before may be
        gone when the file is sent: each step is retried inside a wait until it lands on
        the element the page shows now (a stale one raises and is tried again)."""
        self.wait(lambda: self._cleared(elem_id))
        self.wait(lambda: self._send_file(elem_id, path))
        shown = f"#{elem_id} td.filename[aria-label='{path.name}']"
        self.wait(lambda: self.driver.find_elements(By.CSS_SELECTOR, shown))

    def _cleared(self, elem_id: str) -> bool:
        """Click the upload's Clear buttons; True once none is left."""
        clears = f"#{elem_id} button[aria-label='Clear']"
        for button in self.driver.find_elements(By.CSS_SELECTOR, clears):
            button.click()
        return not self.driver.find_elements(By.CSS_SELECTOR, clears)

    def _send_file(self, elem_id: str, path: Path) -> bool:
        inputs = self.driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} input[type='file']")
        if not inputs:
            return False
        inputs[0].send_keys(str(path))
        return True

    def bot_messages(self) -> list[str]:
        return self._turns("bot")

    def user_messages(self) -> list[str]:
        return self._turns("user")

    def _turns(self, role: str) -> list[str]:
        """The chat's turns of `role` (an element inside another match is the same turn)."""
        return self.driver.execute_script(
            """const [role] = arguments, all = [...document.querySelectorAll(
                `#chatbot .message.${role}, #chatbot [data-testid='${role}']`)];
            return all.filter(e => !all.some(o => o !== e && o.contains(e)))
                .map(e => e.innerText.trim());""",
            role,
        )

    def greedy(self, max_tokens: int) -> None:
        """Temperature 0 and a short answer, in the chat's Sampling accordion."""
        self.open_accordion("chat-sampling", "#chat-temperature input[type='number']")
        for elem_id, value in (("chat-temperature", 0), ("chat-max-tokens", max_tokens)):
            box = self.find(f"#{elem_id} input[type='number']")
            box.send_keys(Keys.CONTROL, "a")
            box.send_keys(str(value), Keys.TAB)
            self.wait(lambda box=box, value=value: box.get_attribute("value") == str(value))

    def watch(self, elem_id: str) -> None:
        """Record every text `elem_id` shows from now on (no change slips between polls)."""
        self.driver.execute_script(
            """const [id] = arguments, node = document.getElementById(id);
            window.danluSeen = window.danluSeen || {};
            const seen = window.danluSeen[id] = [node.innerText];
            new MutationObserver(() => seen.push(node.innerText)).observe(
                node, {childList: true, subtree: true, characterData: true});""",
            elem_id,
        )

    def seen(self, elem_id: str) -> list[str]:
        return self.driver.execute_script("return window.danluSeen[arguments[0]]", elem_id)

    def errors(self) -> list[str]:
        """The texts of the toasts shown now, read in one script: a toast that times out
        between finding it and reading it would otherwise be a stale element."""
        return self.driver.execute_script(
            """return [...document.querySelectorAll("[data-testid='toast-body']")]
                .map(t => t.innerText);"""
        )

    def shot(self, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path
