/**
 * The built-in web client (Hydrogen) driven the way a person uses it: through its login form, its
 * room list, its composer and its menus. Every step waits for what the page shows.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';

export const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts/web-client');

export class HydrogenPage {
  private shot = 0;
  constructor(
    readonly page: Page,
    /** Prefix of this user's screenshots, e.g. "alice". */
    readonly name: string,
  ) {
    mkdirSync(ARTIFACTS, { recursive: true });
  }

  /** Saves test-artifacts/web-client/NAME-NN-STEP.png. */
  async screenshot(step: string): Promise<void> {
    const file = `${this.name}-${String(++this.shot).padStart(2, '0')}-${step}.png`;
    await this.page.screenshot({ path: join(ARTIFACTS, file) });
  }

  async open(baseUrl: string): Promise<void> {
    await this.page.goto(baseUrl + '/');
  }

  /** The login form after the client has asked the homeserver how to log in. */
  get usernameField(): Locator {
    return this.page.locator('.PasswordLoginView #username');
  }

  get homeserverField(): Locator {
    return this.page.locator('#homeserver');
  }

  async submitLogin(username: string, password: string): Promise<void> {
    await this.usernameField.waitFor();
    await this.usernameField.fill(username);
    await this.page.locator('.PasswordLoginView #password').fill(password);
    await this.page.locator('.PasswordLoginView button[type=submit], .PasswordLoginView button.primary').first().click();
  }

  /** The room list: shown once the session is loaded and synced. */
  get roomList(): Locator {
    return this.page.locator('.LeftPanel .RoomList');
  }

  async signIn(baseUrl: string, username: string, password: string): Promise<void> {
    await this.open(baseUrl);
    await this.submitLogin(username, password);
    await this.roomList.waitFor({ timeout: 30_000 });
  }

  roomTile(name: string): Locator {
    return this.page.locator('.RoomList li').filter({ has: this.page.locator('.description .name', { hasText: name }) });
  }

  /** The open room's name in its header. */
  get roomHeader(): Locator {
    return this.page.locator('.RoomView .RoomHeader h2, .RoomView .middle-header h2');
  }

  async createRoom(name: string, encrypted: boolean): Promise<void> {
    await this.page.locator('.LeftPanel .button-utility.create').click();
    await this.page.locator('.menu button, .menu li', { hasText: 'Create Room' }).first().click();
    const form = this.page.locator('.CreateRoomView');
    await form.locator('#name').fill(name);
    const checkbox = form.locator('#isEncrypted');
    if ((await checkbox.isChecked()) !== encrypted) await checkbox.click();
    await form.locator('button[type=submit]').click();
    await this.roomHeader.filter({ hasText: name }).waitFor({ timeout: 30_000 });
  }

  async openRoom(name: string): Promise<void> {
    await this.roomTile(name).waitFor({ timeout: 30_000 });
    await this.roomTile(name).locator('a').click();
  }

  async acceptInvite(roomName: string): Promise<void> {
    await this.openRoom(roomName);
    const invite = this.page.locator('.InviteView');
    await invite.waitFor();
    await invite.locator('button', { hasText: 'Accept' }).click();
    await this.roomHeader.filter({ hasText: roomName }).waitFor({ timeout: 30_000 });
  }

  get composer(): Locator {
    return this.page.locator('.MessageComposer_input textarea');
  }

  /** Types into the composer and presses Enter: a message, or a command such as /invite. */
  async send(text: string): Promise<void> {
    await this.composer.fill(text);
    await this.composer.press('Enter');
  }

  /** Text bodies of the open room's timeline, oldest first. */
  async messageTexts(): Promise<string[]> {
    // The message without its timestamp (the project's types have no DOM: the page's elements are typed by what is used).
    return this.page.locator('.Timeline_message .Timeline_messageBody').evaluateAll((bodies) =>
      bodies.map((body) => {
        const copy = body.cloneNode(true) as unknown as PageElement;
        copy.querySelectorAll('time').forEach((t) => t.remove());
        return (copy.textContent ?? '').trim();
      }),
    );
  }

  message(text: string): Locator {
    return this.page.locator('.Timeline_message .Timeline_messageBody', { hasText: text });
  }

  async sendPicture(file: string): Promise<void> {
    const chooser = this.page.waitForEvent('filechooser');
    await this.page.locator('.MessageComposer_input button.sendFile').click();
    await this.page.locator('.menu button, .menu li', { hasText: 'Send picture' }).first().click();
    await (await chooser).setFiles(file);
  }

  /** The timeline's images. */
  images(): Locator {
    return this.page.locator('.Timeline_message .media img');
  }

  /** Width in pixels of a loaded image, 0 while it has not loaded. */
  async loadedWidth(img: Locator): Promise<number> {
    return img.evaluate((el) => {
      const image = el as unknown as { complete: boolean; naturalWidth: number };
      return image.complete ? image.naturalWidth : 0;
    });
  }
}

/** The little of the DOM these helpers use inside the page. */
interface PageElement {
  textContent: string | null;
  querySelectorAll(selector: string): { forEach(f: (e: { remove(): void }) => void): void };
}
