package config

import (
	"strings"
	"testing"
)

func TestIssuanceDefaultsAreTheCoreRules(t *testing.T) {
	i := Default().Issuance
	if i.OTPTTL.Std().Seconds() != 120 || i.OTPMaxTries != 3 || i.OTPPerWindow != 5 || i.OTPWindow.Std().Hours() != 1 ||
		i.MaxImageBytes != 10<<20 || i.MaxVideoBytes != 50<<20 || i.MaxUploadsPerPurpose != 5 || i.MinKeyBits != 2048 ||
		i.ExpireAfter.Std().Hours() != 720 {
		t.Fatalf("issuance defaults: %+v", i)
	}
}

func TestIssuanceSettingsAreChecked(t *testing.T) {
	for name, tc := range map[string]struct {
		env  []string
		want string
	}{
		"unknown mode":       {[]string{"SENIM_ISSUANCE_SMS_MODE=pigeon"}, "issuance.sms.mode"},
		"http without token": {[]string{"SENIM_ISSUANCE_CA_MODE=http", "SENIM_ISSUANCE_CA_URL=https://ca.example"}, "issuance.ca: mode http needs token_file"},
		"http in clear":      {[]string{"SENIM_ISSUANCE_BMG_MODE=http", "SENIM_ISSUANCE_BMG_URL=http://bmg.example", "SENIM_ISSUANCE_BMG_TOKEN_FILE=/t"}, "issuance.bmg"},
		"weak keys":          {[]string{"SENIM_ISSUANCE_MIN_KEY_BITS=1024"}, "min_key_bits"},
		"short code":         {[]string{"SENIM_ISSUANCE_OTP_TTL=5s"}, "issuance.otp_ttl"},
		"unknown mail mode":  {[]string{"SENIM_ISSUANCE_MAIL_MODE=pigeon"}, "issuance.mail.mode"},
		"smtp without relay": {[]string{"SENIM_ISSUANCE_MAIL_MODE=smtp"}, "issuance.mail.smtp_addr"},
		"smtp user, no pw":   {[]string{"SENIM_ISSUANCE_MAIL_MODE=smtp", "SENIM_ISSUANCE_MAIL_SMTP_ADDR=relay.example:587", "SENIM_ISSUANCE_MAIL_USERNAME=senim"}, "password_file"},
		"sender with a name": {[]string{"SENIM_ISSUANCE_MAIL_FROM=Senim <noreply@senim.kz>"}, "issuance.mail.from"},
		"no mail timeout":    {[]string{"SENIM_ISSUANCE_MAIL_TIMEOUT=0s"}, "issuance.mail.timeout"},
	} {
		_, err := Load("", tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error naming %q, got %v", name, tc.want, err)
		}
	}
	if _, err := Load("", []string{"SENIM_ISSUANCE_MAIL_MODE=smtp", "SENIM_ISSUANCE_MAIL_SMTP_ADDR=relay.example:587", "SENIM_ISSUANCE_MAIL_FROM=noreply@senim.kz"}); err != nil {
		t.Errorf("a relay: %v", err)
	}
	if _, err := Load("", []string{"SENIM_ISSUANCE_ENABLED=false", "SENIM_ISSUANCE_SMS_MODE=pigeon"}); err != nil {
		t.Errorf("issuance off: its settings are not checked, got %v", err)
	}
}
