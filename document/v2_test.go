package document

import (
	"strings"
	"testing"
	"time"

	"github.com/senim-kz/senim/domain/act"
)

// Version 2 names the parties without declining their names, gives the
// powers in both languages, Almaty time, and amounts as Kazakhstan writes
// them; its hashes sit in a block at the end.
func TestVersionTwoText(t *testing.T) {
	f := facts
	f.Format = FormatV2
	f.PowersKK = "Toyota Camry автокөлігін басқару және оған билік ету."
	f.Date = time.Date(2026, 11, 22, 20, 30, 0, 0, time.UTC) // 01:30 on the 23rd in Almaty
	text := string(mustCanonical(t, f))
	for _, want := range []string{
		"Доверитель: СЕЙТҚАЛИ ӘЙГЕРІМ НҰРЛАНҚЫЗЫ, ИИН 871008401427.",
		"Поверенный: ОМАРОВ ЕРЛАН, ИИН 760212350620.",
		"доверитель уполномочивает поверенного совершать от имени доверителя следующие действия:\n" + facts.Powers + "\n",
		"сенім білдірілген тұлғаға сенім білдірушінің атынан мынадай әрекеттерді жасауға өкілеттік береді:\n" + f.PowersKK + "\n",
		"Дата / Күні: 23.11.2026, 01:30 (время Алматы / Алматы уақыты)",
		"сроком на 24 месяца и действительна по 22.11.2028 включительно",
		"24 ай мерзімге берілді және 22.11.2028 дейін (қоса алғанда) жарамды",
		"Мемлекеттік баж: 2\u00a0162,50\u00a0₸",
		"қызметтерге ақы: 12\u00a0975,00\u00a0₸",
		"Итого / Барлығы: 15\u00a0137,50\u00a0₸",
		"Зарегистрировано в реестре за № 1-2026-0001",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("version 2 lacks %q:\n%s", want, text)
		}
	}
	// The nominative after "уполномочиваю" of version 1 is gone.
	if strings.Contains(text, "уполномочиваю") {
		t.Errorf("version 2 still declines nothing after уполномочиваю:\n%s", text)
	}
	// The technical lines close the text.
	tail := text[strings.Index(text, technicalBlock):]
	for _, want := range []string{facts.VerifyURL, facts.ActID, facts.HistoryHead} {
		if !strings.Contains(tail, want) {
			t.Errorf("the technical block lacks %q", want)
		}
	}
	// Without Kazakh powers the Russian ones stand in both sections.
	f.PowersKK = ""
	if n := strings.Count(string(mustCanonical(t, f)), facts.Powers); n != 2 {
		t.Errorf("powers shown %d times without a Kazakh text", n)
	}
	if _, err := PDF(f, &Signature{SignerName: "Алия", SignerIIN: "791028302728", Fingerprint: "ab", SignedAt: f.Date}); err != nil {
		t.Fatal(err)
	}
	if CurrentFormat() != FormatV2 {
		t.Fatalf("current format %d", CurrentFormat())
	}
}

func TestAmountsDatesAndMonths(t *testing.T) {
	for m, want := range map[act.Money]string{0: "0,00\u00a0₸", 5: "0,05\u00a0₸", 100000: "1\u00a0000,00\u00a0₸", 1513750: "15\u00a0137,50\u00a0₸", 123456789012: "1\u00a0234\u00a0567\u00a0890,12\u00a0₸", -1050: "-10,50\u00a0₸"} {
		if got := Tenge(m); got != want {
			t.Errorf("Tenge(%d) = %q, want %q", m, got, want)
		}
	}
	for n, want := range map[int]string{1: "1 месяц", 2: "2 месяца", 4: "4 месяца", 5: "5 месяцев", 11: "11 месяцев", 12: "12 месяцев", 14: "14 месяцев", 21: "21 месяц", 22: "22 месяца", 36: "36 месяцев"} {
		if got := MonthsRU(n); got != want {
			t.Errorf("MonthsRU(%d) = %q, want %q", n, got, want)
		}
	}
	// Almaty was UTC+6 until 2024-03-01 and is UTC+5 since.
	if got := DateTime(time.Date(2024, 2, 1, 18, 30, 0, 0, time.UTC)); got != "02.02.2024 00:30" {
		t.Errorf("before 2024-03-01: %s", got)
	}
	if got := DateTime(time.Date(2026, 2, 1, 18, 30, 0, 0, time.UTC)); got != "01.02.2026 23:30" {
		t.Errorf("since 2024-03-01: %s", got)
	}
}

// v2SHA256 pins version 2's bytes for the test facts, as v1SHA256 does
// version 1's: once documents are signed with it, it must never change.
const v2SHA256 = "3020f2ad887200350ef37348d703ed7315d07ba5ec2a5044773b7f62734aa2a6"

func TestVersionTwoBytesNeverChange(t *testing.T) {
	f := facts
	f.Format, f.PowersKK = FormatV2, "Toyota Camry автокөлігін басқару."
	if got := act.SHA256Hex(mustCanonical(t, f)); got != v2SHA256 {
		t.Fatalf("version 2 renders to %s, signed documents hold %s", got, v2SHA256)
	}
}

func TestParseDayAroundTheSwitch(t *testing.T) {
	for day, want := range map[string]string{"2024-02-29": "2024-02-28T18:00:00Z", "2024-03-01": "2024-02-29T19:00:00Z", "2026-11-22": "2026-11-21T19:00:00Z"} {
		got, err := ParseDay(day)
		if err != nil || got.UTC().Format(time.RFC3339) != want {
			t.Errorf("ParseDay(%s) = %s %v, want %s", day, got.UTC().Format(time.RFC3339), err, want)
		}
	}
	if _, err := ParseDay("22.11.2026"); err == nil {
		t.Error("dd.mm.yyyy parsed as a day")
	}
}

// The fixed offsets agree with the zoneinfo database around the switch.
func TestAlmatyMatchesTheZoneDatabase(t *testing.T) {
	l, err := time.LoadLocation("Asia/Almaty")
	if err != nil {
		t.Skip("no zoneinfo on this host")
	}
	for _, s := range []string{"2023-06-01T12:00:00Z", "2024-02-29T17:59:59Z", "2024-02-29T18:00:00Z", "2026-11-22T20:30:00Z"} {
		at, _ := time.Parse(time.RFC3339, s)
		if got, want := InAlmaty(at).Format(time.RFC3339), at.In(l).Format(time.RFC3339); got != want {
			t.Errorf("%s: %s, the zone database says %s", s, got, want)
		}
	}
}
