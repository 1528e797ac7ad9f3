#!/usr/bin/env python3
"""Drives the operator console in a real browser (Debian chromium + chromedriver, through
Selenium from PyPI) and saves a screenshot of every page it visits.

    console_browser.py <base-url> <screenshot-dir> <password> <dead-job-id>

Users `admin`, `operator` and `viewer` must exist with <password>. Exit status 0 when every
check held; the first failed check is printed and exits 1. 77 when Selenium or the browser
is missing (the conventional "skipped").
"""
import os
import shutil
import sys

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:
    print("SKIP: selenium is not installed (pip install selenium)", file=sys.stderr)
    sys.exit(77)

BASE, SHOTS, PASSWORD, DEAD_JOB = sys.argv[1:5]
os.makedirs(SHOTS, exist_ok=True)


def browser_paths():
    chrome = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chrome or not driver:
        print("SKIP: chromium and chromedriver are needed (apt-get install chromium chromium-driver)", file=sys.stderr)
        sys.exit(77)
    return chrome, driver


def new_driver(width):
    chrome, driver = browser_paths()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--disable-background-networking", "--disable-component-update", "--no-first-run",
              f"--window-size={width},1400"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    if width < 500:
        # A desktop window cannot be that narrow: emulate a phone's viewport instead.
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": True})
    d.phone_width = width if width < 500 else None
    CURRENT.append(d)
    return d


CURRENT = []


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        if CURRENT:
            d = CURRENT[-1]
            print(f"at {d.current_url}:\n{d.find_element(By.TAG_NAME, 'body').text[:2000]}", file=sys.stderr)
        raise SystemExit(1)
    print(f"ok: {what}")


shot_no = [0]


def shot(d, name):
    shot_no[0] += 1
    path = os.path.join(SHOTS, f"{shot_no[0]:02d}-{name}.png")
    # The whole page, not just the window.
    height = max(800, min(d.execute_script("return document.documentElement.scrollHeight") + 120, 6000))
    if d.phone_width:
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": d.phone_width, "height": height, "deviceScaleFactor": 1, "mobile": True})
    else:
        d.set_window_size(d.get_window_size()["width"], height)
    d.save_screenshot(path)
    print(f"screenshot: {path}")


def login(d, user):
    d.delete_all_cookies()
    d.get(BASE + "/console/login")
    d.find_element(By.ID, "username").send_keys(user)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    landed = wait(d, lambda d: d.current_url.rstrip("/").endswith("/console") and d.find_elements(By.CSS_SELECTOR, ".whoami"))
    check(landed, f"{user} lands on the dashboard")
    check(user in d.find_element(By.CSS_SELECTOR, ".whoami").text, f"{user} is shown as signed in")


def wait(d, condition, seconds=15):
    """Whether `condition` held within `seconds` (a click's page load may still be under way)."""
    try:
        return bool(WebDriverWait(d, seconds).until(condition))
    except Exception:
        return False


def flash(d):
    wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, ".flash"))
    items = d.find_elements(By.CSS_SELECTOR, ".flash")
    return items[0].text if items else ""


def main():
    d = new_driver(1280)
    try:
        d.get(BASE + "/console/login")
        shot(d, "login")

        # The viewer: reads everything, acts on nothing (no button, and a forged POST is 403).
        login(d, "viewer")
        shot(d, "dashboard-viewer")
        d.get(BASE + "/console/jobs?state=dead")
        check(not d.find_elements(By.XPATH, "//button[normalize-space()='Retry']"), "a viewer sees no Retry button")
        shot(d, "jobs-dead-viewer")
        d.get(BASE + "/console/schedules")
        check(not d.find_elements(By.XPATH, "//button[normalize-space()='Run now']"), "a viewer sees no Run now button")
        d.get(BASE + "/console/deliveries")
        d.find_element(By.CSS_SELECTOR, "main a[href^='/console/runs/']").click()
        check(not d.find_elements(By.XPATH, "//button[normalize-space()='Roll back to this run']"),
              "a viewer sees no rollback button")
        d.get(BASE + "/console/schedules")
        csrf = d.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("value")
        d.execute_script(
            "var f=document.createElement('form');f.method='post';f.action=arguments[0];"
            "var i=document.createElement('input');i.type='hidden';i.name='csrf';i.value=arguments[1];"
            "f.appendChild(i);document.body.appendChild(f);f.submit();",
            f"/console/jobs/{DEAD_JOB}/retry", csrf)
        check(wait(d, lambda d: "403" in d.find_element(By.TAG_NAME, "h1").text), "a viewer's forged retry POST is refused with 403")
        shot(d, "forbidden-viewer")

        # The operator: filter events, replay one, retry a dead letter, run a schedule now.
        login(d, "operator")
        d.get(BASE + "/console/events")
        Select(d.find_element(By.ID, "f-source")).select_by_visible_text("github")
        d.find_element(By.ID, "f-type").send_keys("push")
        d.find_element(By.XPATH, "//form[@aria-label='Filter events']//button[@type='submit']").click()
        check(wait(d, lambda d: "source=github" in d.current_url and "type=push" in d.current_url), "the filter is in the URL")
        rows = d.find_elements(By.CSS_SELECTOR, "main table tbody tr")
        check(len(rows) >= 1 and all("push" in r.text for r in rows), "filtered events are pushes")
        shot(d, "events-filtered")
        rows[0].find_element(By.CSS_SELECTOR, "a.mono").click()
        shot(d, "event")
        d.find_element(By.XPATH, "//button[normalize-space()='Replay this event']").click()
        check("Replayed" in flash(d), "replaying an event says what it queued")
        d.get(BASE + "/console/jobs?state=dead")
        shot(d, "jobs-dead")
        d.find_element(By.XPATH, "//button[normalize-space()='Retry']").click()
        check("queued again" in flash(d), "a dead letter is retried")
        shot(d, "job-retried")
        d.get(BASE + "/console/schedules")
        shot(d, "schedules")
        d.find_element(By.XPATH, "//button[normalize-space()='Run now']").click()
        check("Queued schedule" in flash(d), "a schedule runs now")
        d.get(BASE + "/console/deliveries")
        shot(d, "deliveries")
        d.find_element(By.CSS_SELECTOR, "main a[href^='/console/runs/']").click()
        check(d.find_elements(By.XPATH, "//button[normalize-space()='Roll back to this run']"),
              "an operator sees the rollback button on a run's page")
        shot(d, "run")
        d.get(BASE + "/console/rejected")
        shot(d, "rejected")
        d.get(BASE + "/console/events/replay?source=github")
        shot(d, "replay-confirm")

        # The admin: users, tokens, audit log (which now names the operator's actions).
        login(d, "admin")
        d.get(BASE + "/console/users")
        shot(d, "users")
        d.get(BASE + "/console/audit")
        audit = d.find_element(By.TAG_NAME, "main").text
        for action in ("event.replay", "job.retry", "schedule.run_now"):
            check(action in audit and "operator" in audit, f"the audit log shows {action} by operator")
        shot(d, "audit")
        d.get(BASE + "/console/runs/" + "does-not-exist")
        check("404" in d.find_element(By.TAG_NAME, "h1").text, "an unknown run is a 404 page")
    finally:
        d.quit()

    # A phone-sized window: the dashboard and the event list stay readable.
    d = new_driver(375)
    try:
        login(d, "operator")
        shot(d, "dashboard-375")
        scroll = d.execute_script("return document.documentElement.scrollWidth")
        wide = d.execute_script(
            "return Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > 376)"
            ".slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')")
        check(scroll <= 375, f"the dashboard fits 375 px ({scroll} px wide; widest: {wide})")
        d.get(BASE + "/console/events")
        shot(d, "events-375")
        scroll = d.execute_script("return document.documentElement.scrollWidth")
        check(scroll <= 375, f"the events page fits 375 px ({scroll} px wide)")
    finally:
        d.quit()
    print(f"screenshots in {SHOTS}")


main()
